using System.Text.Json.Serialization;

namespace Vdi.Protocol;

/// <summary>Body of <c>POST /api/auth/sign-in</c>.</summary>
public sealed record SignInRequest(string UserName, string Password);

/// <summary>Answer of sign-in and <c>GET /api/auth/me</c>.</summary>
public sealed record SignedInUser(string UserName, IReadOnlyList<string> Roles)
{
    public const string AdminRole = "admin";

    [JsonIgnore]
    public bool IsAdmin => Roles.Contains(AdminRole, StringComparer.OrdinalIgnoreCase);
}

/// <summary>Body of <c>POST /api/users</c>.</summary>
public sealed record CreateUserRequest(string UserName, string Password, bool IsAdmin = false);

/// <summary>One account, as <c>GET /api/users</c> lists it.</summary>
public sealed record UserSummary(string Id, string UserName, IReadOnlyList<string> Roles);

/// <summary>One line of <c>GET /api/audit</c>.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string? UserId, string Action, string Detail, string? UserName = null);
