using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.Server.Sessions;

/// <summary>
/// The stored side of sessions: ending records with their reason, the display a connected client shows now, and the
/// sweeps that end records nobody will end otherwise (unconnected ones whose token expired; at start, those the
/// previous process left live). A record is live while <see cref="SessionRecord.EndedAt"/> is null.
/// </summary>
public sealed class SessionRecords(IServiceScopeFactory scopes, TimeProvider time)
{
    /// <summary>Ends one record (a no-op when it already ended).</summary>
    public Task EndAsync(Guid sessionId, string reason) =>
        UpdateAsync(q => q.Where(s => s.Id == sessionId && s.EndedAt == null), reason);

    /// <summary>
    /// A new single-use connect token for a live record (its desktop moved to another host: the client connects there
    /// with it and the same session goes on); null when the record ended meanwhile.
    /// </summary>
    public async Task<string?> ReissueTokenAsync(Guid sessionId, TimeSpan lifetime)
    {
        var token = SessionIssuer.NewToken();
        var (hash, expires) = (SessionIssuer.HashToken(token), time.GetUtcNow() + lifetime);
        await using var scope = scopes.CreateAsyncScope();
        var reissued = await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Sessions
            .Where(s => s.Id == sessionId && s.EndedAt == null)
            .ExecuteUpdateAsync(u => u
                .SetProperty(s => s.ConnectTokenHash, hash)
                .SetProperty(s => s.ConnectTokenUsed, false)
                .SetProperty(s => s.ConnectTokenExpiresAt, expires))
            .ConfigureAwait(false);
        return reissued == 1 ? token : null;
    }

    /// <summary>Ends every live record of a desktop: the desktop stopped, so no token of it can be redeemed either.</summary>
    public Task<int> EndLiveOfDesktopAsync(Guid desktopId, string reason) =>
        UpdateAsync(q => q.Where(s => s.DesktopId == desktopId && s.EndedAt == null), reason);

    /// <summary>Ends every live record of a user (sign-out).</summary>
    public Task<int> EndLiveOfUserAsync(string userId, string reason) =>
        UpdateAsync(q => q.Where(s => s.UserId == userId && s.EndedAt == null), reason);

    /// <summary>Ends unconnected records whose connect token expired (reason <c>expired</c>).</summary>
    public Task<int> ExpireUnconnectedAsync()
    {
        var now = time.GetUtcNow();
        return UpdateAsync(q => q.Where(s => s.EndedAt == null && !s.ConnectTokenUsed && s.ConnectTokenExpiresAt < now), SessionEndReasons.Expired);
    }

    /// <summary>At start: every record still live belongs to the previous process (reason <c>server-restarted</c>).</summary>
    public Task<int> EndAllLiveAsync(string reason) => UpdateAsync(q => q.Where(s => s.EndedAt == null), reason);

    /// <summary>
    /// In a cluster, a host's restart ends only the live records of the desktops placed on it: the other hosts' sessions
    /// go on.
    /// </summary>
    public async Task<int> EndAllLiveOnHostAsync(string host, string reason)
    {
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        return await db.Sessions.Where(s => s.EndedAt == null && db.Desktops.Any(d => d.Id == s.DesktopId && d.HostName == host))
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.EndedAt, now).SetProperty(s => s.EndReason, reason)).ConfigureAwait(false);
    }

    /// <summary>Stores the display a connected client now shows.</summary>
    public async Task SaveDisplayAsync(Guid sessionId, ClientDisplay d)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        await db.Sessions.Where(s => s.Id == sessionId).ExecuteUpdateAsync(u => u
            .SetProperty(s => s.Width, d.Width)
            .SetProperty(s => s.Height, d.Height)
            .SetProperty(s => s.DevicePixelRatio, d.DevicePixelRatio)
            .SetProperty(s => s.Dpi, d.EffectiveDpi())
            .SetProperty(s => s.WidthMm, d.WidthMm)
            .SetProperty(s => s.HeightMm, d.HeightMm)
            .SetProperty(s => s.RefreshHz, d.RefreshHz)).ConfigureAwait(false);
    }

    /// <summary>
    /// The user's live sessions that still count against the limit: connected ones and unconnected ones whose token
    /// can still be redeemed (expired tokens count no more, swept or not).
    /// </summary>
    public static Task<int> CountLiveAsync(VdiDbContext db, string userId, DateTimeOffset now) =>
        db.Sessions.CountAsync(s => s.UserId == userId && s.EndedAt == null && (s.ConnectTokenUsed || s.ConnectTokenExpiresAt > now));

    private async Task<int> UpdateAsync(Func<IQueryable<SessionRecord>, IQueryable<SessionRecord>> which, string reason)
    {
        var now = time.GetUtcNow();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        return await which(db.Sessions).ExecuteUpdateAsync(u => u
            .SetProperty(s => s.EndedAt, now)
            .SetProperty(s => s.EndReason, reason)).ConfigureAwait(false);
    }
}
