using System.Security.Cryptography;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.Server.Sessions;

/// <summary>
/// Issues sessions: a record and its short-lived, single-use connect token. Only a hash of the
/// token is stored; the broker redeems it by that hash.
/// </summary>
public static class SessionIssuer
{
    /// <summary>Adds the session to <paramref name="db"/> (the caller saves) and returns the answer carrying the token,
    /// valid for <paramref name="tokenLifetime"/>.</summary>
    public static CreateSessionResponse Issue(VdiDbContext db, TimeProvider time, TimeSpan tokenLifetime, Guid desktopId, string userId, ClientDisplay? display, string? clientName, bool shadow)
    {
        var token = NewToken();
        var now = time.GetUtcNow();
        var session = new SessionRecord
        {
            Id = Guid.NewGuid(),
            DesktopId = desktopId,
            UserId = userId,
            ClientName = clientName,
            Shadow = shadow,
            ConnectTokenHash = HashToken(token),
            ConnectTokenExpiresAt = now + tokenLifetime,
            CreatedAt = now,
        };
        if (display is not null)
        {
            session.Width = display.Width;
            session.Height = display.Height;
            session.DevicePixelRatio = display.DevicePixelRatio;
            session.Dpi = display.EffectiveDpi();
            session.WidthMm = display.WidthMm;
            session.HeightMm = display.HeightMm;
            session.RefreshHz = display.RefreshHz;
        }
        db.Sessions.Add(session);
        return new CreateSessionResponse(session.Id, token, session.ConnectTokenExpiresAt);
    }

    /// <summary>A connect token: 32 random bytes, base64url.</summary>
    public static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>SHA-256 of a connect token, as stored and looked up.</summary>
    public static string HashToken(string token) => Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token)));
}
