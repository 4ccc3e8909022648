using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Storage;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Server.Sessions;

/// <summary>
/// Who is connected to which desktop, and whose display the desktop follows. Connecting with a
/// session's single-use token reconfigures the desktop to that client's display before anything is
/// sent; a second (non-shadow) session for the same desktop takes it over and the first client is
/// told why; shadow sessions watch without reconfiguring or typing. Display changes from the
/// controlling client are debounced and echo-free, and stored as the session's current display. Ending a session
/// (take-over, administrator, desktop stopped, lost connection) tells its client why, closes its connection and ends
/// its record.
/// </summary>
public sealed class SessionBroker(IServiceScopeFactory scopes, Func<Guid, IDisplayTarget?> displays, TimeProvider time, SessionBrokerOptions options)
{
    private readonly SessionRecords _records = new(scopes, time);
    private readonly ConcurrentDictionary<string, ConnectedSession> _byConnection = new();
    private readonly ConcurrentDictionary<Guid, DesktopSessions> _desktops = new();

    public IReadOnlyCollection<ConnectedSession> Connected => [.. _byConnection.Values];

    public ConnectedSession? ByConnection(string connectionId) => _byConnection.GetValueOrDefault(connectionId);

    /// <summary>The session whose display desktop <paramref name="desktopId"/> follows, if any.</summary>
    public ConnectedSession? Controller(Guid desktopId) => _desktops.TryGetValue(desktopId, out var d) ? d.Controller : null;

    /// <exception cref="SessionRefusedException">The token is unknown, used, expired or not the caller's, or the desktop isn't running.</exception>
    public async Task<ConnectedSession> ConnectAsync(string token, string userId, ClientDisplay display, string connectionId, ISessionClient client, CancellationToken cancellationToken)
    {
        if (ClientDisplay.Validate(display) is { Count: > 0 } errors)
            throw new SessionRefusedException(string.Join(" ", errors.Select(e => e.Message)));
        var record = await RedeemAsync(token, userId, display, cancellationToken).ConfigureAwait(false);
        var target = displays(record.DesktopId) ?? throw new SessionRefusedException("the desktop is not running");
        var session = new ConnectedSession(record.Id, record.DesktopId, userId, record.Shadow, connectionId, display, client) { ClientName = record.ClientName };
        var desktop = _desktops.GetOrAdd(record.DesktopId, _ => new DesktopSessions());

        ConnectedSession? previous = null;
        await desktop.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _byConnection[connectionId] = session;
            if (!session.IsShadow)
            {
                previous = desktop.Controller;
                desktop.Controller = session;
                desktop.Pending = null;
                // Before the first frame: the guest shows exactly this client's display.
                var properties = ToProperties(display);
                try
                {
                    desktop.LastApplied = time.GetTimestamp();
                    await target.RequestAsync(properties, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException or ArgumentException)
                {
                    // The desktop keeps following whoever it followed; this connect never happened.
                    desktop.Controller = previous;
                    _byConnection.TryRemove(new KeyValuePair<string, ConnectedSession>(connectionId, session));
                    throw new SessionRefusedException($"the desktop did not take this display: {e.Message}");
                }
                desktop.Requested = properties;
            }
        }
        finally
        {
            desktop.Gate.Release();
        }
        if (previous is not null)
            await EndAsync(previous, SessionEndReasons.TakenOver, TakenOverMessage(session.ClientName)).ConfigureAwait(false);
        return session;
    }

    /// <summary>
    /// The controlling client's display changed (window resize, devicePixelRatio change). Reports equal
    /// to what the desktop already follows are ignored (no echo). A report that comes after a quiet
    /// <see cref="SessionBrokerOptions.Debounce"/> is applied at once; reports within that time of the
    /// last change applied are gathered and applied once, when it has passed, with their latest value.
    /// Returns false when the report was not used (not the controller, invalid, or an echo).
    /// </summary>
    public bool DisplayChanged(string connectionId, ClientDisplay display)
    {
        if (!_byConnection.TryGetValue(connectionId, out var session) || session.IsShadow || ClientDisplay.Validate(display).Count > 0)
            return false;
        if (!_desktops.TryGetValue(session.DesktopId, out var desktop) || desktop.Controller != session)
            return false;
        session.Display = display;
        _ = Task.Run(() => SaveDisplayAsync(session)); // off the hub's call: a burst of reports is not slowed by the store
        var properties = ToProperties(display);
        lock (desktop.PendingGate)
        {
            if (properties == desktop.Requested && desktop.Pending is null)
                return false;
            var scheduled = desktop.Pending is not null;
            desktop.Pending = properties;
            if (!scheduled)
                _ = ApplyLaterAsync(session.DesktopId, desktop, options.Debounce - time.GetElapsedTime(desktop.LastApplied));
        }
        return true;
    }

    private async Task ApplyLaterAsync(Guid desktopId, DesktopSessions desktop, TimeSpan wait)
    {
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, time).ConfigureAwait(false);
        else
            await Task.Yield(); // off the hub's call: the report returns at once
        DisplayProperties? properties;
        lock (desktop.PendingGate)
        {
            properties = desktop.Pending;
            desktop.Pending = null;
        }
        if (properties is null || properties == desktop.Requested || displays(desktopId) is not { } target)
            return;
        await desktop.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            desktop.LastApplied = time.GetTimestamp();
            await target.RequestAsync(properties, CancellationToken.None).ConfigureAwait(false);
            desktop.Requested = properties;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // A slow or superseded change: the next report or connect will ask again.
        }
        finally
        {
            desktop.Gate.Release();
        }
    }

    /// <summary>The connection went away: its session ends (the display stays as it is).</summary>
    public Task DisconnectedAsync(string connectionId, string reason = SessionEndReasons.Disconnected) =>
        _byConnection.TryGetValue(connectionId, out var session) ? EndAsync(session, reason, null) : Task.CompletedTask;

    /// <summary>
    /// The desktop is stopping (stopped, restarted, deleted, crashed): every session on it ends with
    /// <c>desktop-stopped</c>, its client told <paramref name="message"/>; records not connected yet end too.
    /// </summary>
    public async Task EndDesktopAsync(Guid desktopId, string message)
    {
        var sessions = _byConnection.Values.Where(s => s.DesktopId == desktopId).ToList();
        await Task.WhenAll(sessions.Select(s => EndAsync(s, SessionEndReasons.DesktopStopped, message))).ConfigureAwait(false);
        await _records.EndLiveOfDesktopAsync(desktopId, SessionEndReasons.DesktopStopped).ConfigureAwait(false);
    }

    /// <summary>
    /// The desktop moved to another host: each client connected here is told (reason <c>moved</c>) with a new single-use
    /// token for its same session, and its connection here closes; the client connects again through the same address,
    /// reaches the desktop's new host and redeems the token there. The session records go on.
    /// </summary>
    public async Task MoveDesktopAsync(Guid desktopId, string message)
    {
        var sessions = _byConnection.Values.Where(s => s.DesktopId == desktopId).ToList();
        await Task.WhenAll(sessions.Select(s => HandOverAsync(s, message))).ConfigureAwait(false);
    }

    private async Task HandOverAsync(ConnectedSession session, string message)
    {
        if (!Detach(session))
            return;
        var token = await _records.ReissueTokenAsync(session.SessionId, options.ConnectTokenLifetime).ConfigureAwait(false);
        await NotifyAndCloseAsync(session, new SessionEnded(SessionEndReasons.Moved, message, token)).ConfigureAwait(false);
        if (token is null)
            await _records.EndAsync(session.SessionId, SessionEndReasons.Moved).ConfigureAwait(false);
    }

    /// <summary>An administrator ends a session; its client is told why.</summary>
    public async Task<bool> EndByAdminAsync(Guid sessionId)
    {
        var session = _byConnection.Values.FirstOrDefault(s => s.SessionId == sessionId);
        if (session is null)
            return false;
        await EndAsync(session, SessionEndReasons.DisconnectedByAdmin, "an administrator ended this session").ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Ends a connected session once: with a <paramref name="message"/>, its client gets <c>SessionEnded</c> (nothing
    /// is sent after it), then its frames stop and its connection is aborted; without one (the connection is already
    /// gone) only its frames stop. Its record ends with <paramref name="reason"/>.
    /// </summary>
    public async Task EndAsync(ConnectedSession session, string reason, string? message)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!Detach(session))
            return;
        await NotifyAndCloseAsync(session, message is null ? null : new SessionEnded(reason, message)).ConfigureAwait(false);
        await _records.EndAsync(session.SessionId, reason).ConfigureAwait(false);
    }

    /// <summary>Takes a connected session out of the broker (once: false when it already was), and its desktop's control.</summary>
    private bool Detach(ConnectedSession session)
    {
        if (!_byConnection.TryRemove(new KeyValuePair<string, ConnectedSession>(session.ConnectionId, session)))
            return false;
        if (_desktops.TryGetValue(session.DesktopId, out var desktop) && desktop.Controller == session)
            desktop.Controller = null;
        return true;
    }

    /// <summary>Sends <paramref name="notice"/> when there is one, then stops the connection's frames (and aborts it after a notice).</summary>
    private static async Task NotifyAndCloseAsync(ConnectedSession session, SessionEnded? notice)
    {
        try
        {
            if (notice is not null)
                await session.Client.SessionEndedAsync(notice).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // The connection is going away anyway: the close below still happens.
        }
        finally
        {
            await session.Client.CloseAsync(abort: notice is not null).ConfigureAwait(false);
        }
    }

    /// <summary>Ends every session of a user, connected or waiting (sign-out).</summary>
    public async Task EndUserAsync(string userId, string reason, string message)
    {
        var sessions = _byConnection.Values.Where(s => s.UserId == userId).ToList();
        await Task.WhenAll(sessions.Select(s => EndAsync(s, reason, message))).ConfigureAwait(false);
        await _records.EndLiveOfUserAsync(userId, reason).ConfigureAwait(false);
    }

    /// <summary>The take-over notice, naming the device that took over by its client name.</summary>
    public static string TakenOverMessage(string? clientName) =>
        $"This desktop was opened on another device{(string.IsNullOrWhiteSpace(clientName) ? "" : $" ({clientName.Trim()})")}. Open it here again to take it back.";

    // One write at a time per session, each with the latest display: a burst of resizes ends with the last one stored.
    private async Task SaveDisplayAsync(ConnectedSession session)
    {
        await session.DisplayWrite.WaitAsync().ConfigureAwait(false);
        try
        {
            await _records.SaveDisplayAsync(session.SessionId, session.Display).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            // The record is gone (desktop deleted): nothing to track.
        }
        finally
        {
            session.DisplayWrite.Release();
        }
    }

    private async Task<SessionRecord> RedeemAsync(string token, string userId, ClientDisplay display, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var hash = SessionIssuer.HashToken(token ?? "");
        var record = await db.Sessions.FirstOrDefaultAsync(s => s.ConnectTokenHash == hash, cancellationToken).ConfigureAwait(false);
        if (record is null || record.UserId != userId)
            throw new SessionRefusedException("unknown connect token");
        if (record.ConnectTokenUsed)
            throw new SessionRefusedException("this connect token was already used; create a new session");
        if (record.ConnectTokenExpiresAt < time.GetUtcNow())
        {
            if (record.EndedAt is null)
                await _records.EndAsync(record.Id, SessionEndReasons.Expired).ConfigureAwait(false);
            throw new SessionRefusedException("this connect token has expired; create a new session");
        }
        if (record.EndedAt is not null)
            throw new SessionRefusedException($"this session has ended ({record.EndReason}); create a new session");
        // Single use even under concurrent connects: only one conditional update can flip the flag.
        var redeemed = await db.Sessions
            .Where(s => s.Id == record.Id && !s.ConnectTokenUsed && s.EndedAt == null)
            .ExecuteUpdateAsync(u => u
                .SetProperty(s => s.ConnectTokenUsed, true)
                .SetProperty(s => s.Width, display.Width)
                .SetProperty(s => s.Height, display.Height)
                .SetProperty(s => s.DevicePixelRatio, display.DevicePixelRatio)
                .SetProperty(s => s.Dpi, display.EffectiveDpi()), cancellationToken)
            .ConfigureAwait(false);
        if (redeemed != 1)
            throw new SessionRefusedException("this connect token was already used; create a new session");
        return record;
    }

    internal static DisplayProperties ToProperties(ClientDisplay d) =>
        new(d.Width, d.Height, Math.Round(d.EffectiveDpi(), 1), d.RefreshHz is { } hz ? (int)Math.Round(hz) : 60)
        {
            WidthMm = d.WidthMm is { } w ? (int)Math.Round(w) : null,
            HeightMm = d.HeightMm is { } h ? (int)Math.Round(h) : null,
        };

    private sealed class DesktopSessions
    {
        public SemaphoreSlim Gate { get; } = new(1, 1); // serialises reconfigurations of one desktop

        public Lock PendingGate { get; } = new();

        public ConnectedSession? Controller { get; set; }

        public DisplayProperties? Requested { get; set; }

        public DisplayProperties? Pending { get; set; }

        /// <summary>When the last display change was handed to the desktop (a <see cref="TimeProvider"/> timestamp).</summary>
        public long LastApplied { get; set; }
    }
}
