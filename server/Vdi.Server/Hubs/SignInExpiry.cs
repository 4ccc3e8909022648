using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.SignalR;
using Vdi.Protocol;
using Vdi.Server.Sessions;

namespace Vdi.Server.Hubs;

/// <summary>
/// Ends a connected session when the sign-in its connection was opened with expires. A hub connection is one long
/// request: the cookie's sliding renewal never reaches it, so the connection's sign-in ends at the expiry it carried
/// when it connected. The client is told <c>expired</c>, its frames stop and the connection is closed, as for every
/// other end; signing in again opens the desktop again.
/// </summary>
public sealed class SignInExpiry(SessionBroker broker, TimeProvider time) : IDisposable
{
    public const string Message = "Your sign-in expired. Sign in again to go on.";

    private readonly ConcurrentDictionary<string, ITimer> _timers = new();

    /// <summary>When the sign-in of the connection behind <paramref name="context"/> expires, or null when it carries no expiry.</summary>
    public static async Task<DateTimeOffset?> ExpiryOfAsync(HubCallerContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.GetHttpContext() is not { } http)
            return null;
        // The authentication middleware's result where the transport kept it (WebSockets, server-sent events); a
        // long-polling connection's context is a copy without it, so its cookie is read again.
        if (http.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult?.Properties?.ExpiresUtc is { } expires)
            return expires;
        var result = await http.AuthenticateAsync(IdentityConstants.ApplicationScheme).ConfigureAwait(false);
        return result.Succeeded ? result.Properties?.ExpiresUtc : null;
    }

    /// <summary>Ends <paramref name="session"/> with <c>expired</c> at <paramref name="expires"/> (at once when already past).</summary>
    public void Watch(ConnectedSession session, DateTimeOffset expires)
    {
        ArgumentNullException.ThrowIfNull(session);
        var due = expires - time.GetUtcNow();
        if (due < TimeSpan.Zero)
            due = TimeSpan.Zero;
        if (due > TimeSpan.FromDays(49))
            return; // beyond what a timer holds; no sign-in here lasts that long
        var timer = time.CreateTimer(_ => _ = EndAsync(session), null, due, Timeout.InfiniteTimeSpan);
        if (_timers.TryRemove(session.ConnectionId, out var previous))
            previous.Dispose();
        _timers[session.ConnectionId] = timer;
    }

    /// <summary>The connection went away: its watch ends with it.</summary>
    public void Forget(string connectionId)
    {
        if (_timers.TryRemove(connectionId, out var timer))
            timer.Dispose();
    }

    public void Dispose()
    {
        foreach (var timer in _timers.Values)
            timer.Dispose();
        _timers.Clear();
    }

    private async Task EndAsync(ConnectedSession session)
    {
        Forget(session.ConnectionId);
        await broker.EndAsync(session, SessionEndReasons.Expired, Message).ConfigureAwait(false);
    }
}
