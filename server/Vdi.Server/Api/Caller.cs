using System.Security.Claims;
using Vdi.Server.Accounts;
using Vdi.Server.Storage;

namespace Vdi.Server.Api;

/// <summary>Who is calling, and what they may see: administrators every desktop, users their own.</summary>
public readonly record struct Caller(string UserId, bool IsAdmin)
{
    public static Caller From(ClaimsPrincipal principal) =>
        new(principal.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("an authenticated caller has no user id"), principal.IsInRole(Roles.Admin));

    public bool CanUse(DesktopRecord desktop) => IsAdmin || desktop.OwnerUserId == UserId;
}
