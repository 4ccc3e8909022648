using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vdi.WebClient.Transport;

/// <summary>Body of <c>POST /api/auth/sign-in</c>.</summary>
public sealed record SignInRequest(string UserName, string Password);

/// <summary>Answer of sign-in and <c>GET /api/auth/me</c>.</summary>
public sealed record SignedInUser(string UserName, string[] Roles)
{
    public bool IsAdmin => Roles.Contains("admin", StringComparer.OrdinalIgnoreCase);
}

/// <summary>One line of <c>GET /api/audit</c>.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string? UserId, string Action, string Detail);

/// <summary>The parts of an RFC 9457 problem document the client shows.</summary>
public sealed record ProblemBody(string? Title, string? Detail, Dictionary<string, string[]>? Errors);

/// <summary>Source-generated JSON for the client's own REST shapes (trim safe), with web defaults.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, GenerationMode = JsonSourceGenerationMode.Metadata)]
[JsonSerializable(typeof(SignInRequest))]
[JsonSerializable(typeof(SignedInUser))]
[JsonSerializable(typeof(AuditEntry[]))]
[JsonSerializable(typeof(ProblemBody))]
internal sealed partial class ClientJsonContext : JsonSerializerContext;
