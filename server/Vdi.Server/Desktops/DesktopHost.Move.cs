using System.Net;
using Vdi.Protocol;
using Vdi.Vmm.Host;
using Vdi.Vmm.Migration;

namespace Vdi.Server.Desktops;

/// <summary>
/// A desktop moving between hosts of a cluster by live migration. The destination host prepares an arrival: a machine
/// from the desktop's config, never booted, listening on loopback for one migration presenting a fresh token
/// (<see cref="Cluster.MigrationGateway"/> is its door from the network). The source departs: it sends the running
/// machine there, and on success stays paused until the desktop's record names its new host; then its viewers are told
/// the desktop moved (they reconnect, and reach the new host) and its machine stops. A failed departure leaves the
/// desktop running here as before.
/// </summary>
public sealed partial class DesktopHost
{
    private static readonly TimeSpan s_arrivalWait = TimeSpan.FromSeconds(60);
    private IDesktopMachine? _departed; // sent away, paused, until FinishDepartureAsync

    /// <summary>
    /// Tells the clients of this desktop's sessions that it moved to another host (they reconnect there) and ends their
    /// sessions here. Set by the pool.
    /// </summary>
    public Func<Guid, string, Task>? MoveSessions { get; set; }

    /// <summary>
    /// Makes this host's machine for an arriving desktop. Returns the token its source must present, the loopback
    /// endpoint its VMM listens on, and the task of its arrival (null once it runs here, else why not).
    /// </summary>
    /// <param name="why">What the desktop's state says meanwhile.</param>
    public async Task<(byte[] Token, IPEndPoint Local, Task<string?> Arrived)> PrepareArrivalAsync(string why = "arriving from another host")
    {
        if (CreateMachine is not null)
            throw new InvalidOperationException("this desktop's machines are made by a test hook that cannot receive a migration");
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        IDesktopMachine? destination = null;
        try
        {
            if (State is DesktopState.Running or DesktopState.Starting)
                throw new InvalidOperationException($"desktop '{Name}' already runs on this host");
            if (_desktop is { } old)
            {
                _desktop = null;
                await old.DisposeAsync().ConfigureAwait(false);
            }
            (State, StateReason) = (DesktopState.Starting, why);
            var folder = _options.Isolation == DesktopIsolation.Process ? HostDirectories.Create(_options, Id) : null;
            destination = await DesktopMachines.CreateIncomingAsync(Config(), folder, _options.Sandbox, line => DesktopLog.Host(_log, Name, line),
                configure: o => HostOptions = Hosted(o) with
                {
                    ProcessStarted = p => HostRecord.Write(o.WorkDirectory, p, o.SocketPath, _options.DataDirectory, DateTimeOffset.UtcNow),
                }).ConfigureAwait(false);
            WatchIntegrity(destination); // raised as soon as the restored guest runs
            var token = MigrateListenMessage.NewToken();
            var incoming = await destination.AcceptMigrationAsync(token).ConfigureAwait(false);
            var arriving = destination;
            destination = null; // the arrival's from here
            return (token, incoming.Endpoint, ArriveAsync(arriving, incoming.Received));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or HostProtocolException or ArgumentException)
        {
            if (destination is not null)
                await destination.DisposeAsync().ConfigureAwait(false);
            if (State == DesktopState.Starting)
            {
                HostDirectories.Remove(_options, Id);
                (State, StateReason) = (DesktopState.Stopped, $"its arrival from another host failed: {e.Message}");
            }
            throw;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private async Task<string?> ArriveAsync(IDesktopMachine destination, Task<MigrationOutcome> received)
    {
        string? error;
        try
        {
            var outcome = await received.WaitAsync(s_arrivalWait).ConfigureAwait(false);
            error = outcome.Succeeded ? null : outcome.Error ?? "the migration failed";
        }
        catch (TimeoutException)
        {
            error = $"no migration arrived within {s_arrivalWait.TotalSeconds:F0} s";
        }
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (error is null)
            {
                _desktop = destination;
                (State, StateReason) = (DesktopState.Running, null);
                _ = WatchAsync(destination);
                DesktopLog.Started(_log, Name, destination.Engine);
                return null;
            }
            (State, StateReason) = (DesktopState.Stopped, $"its arrival from another host failed: {error}");
        }
        finally
        {
            _lifecycle.Release();
        }
        await destination.DisposeAsync().ConfigureAwait(false);
        HostDirectories.Remove(_options, Id);
        DesktopLog.MigrationFailed(_log, Name, error);
        return error;
    }

    /// <summary>
    /// Sends the running desktop to another host's arrival at <paramref name="endpoint"/>. On success its machine stays
    /// here, paused, until <see cref="FinishDepartureAsync"/>; on failure the desktop runs on as before.
    /// </summary>
    public async Task<MigrationStatus> DepartAsync(IPEndPoint endpoint, byte[] token, MigrationOptions options)
    {
        var (source, status) = BeginMigration(options);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        MigrationOutcome? outcome = null;
        string? error;
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_desktop != source || State != DesktopState.Running)
                throw new InvalidOperationException("the desktop stopped before its migration began");
            outcome = await source.MigrateToAsync(endpoint, token, options, new Progress(this, status.StartedAt)).ConfigureAwait(false);
            error = outcome.Succeeded ? null : outcome.Error;
            if (error is null)
                _departed = source;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or HostProtocolException or ArgumentException or MigrationException)
        {
            error = e.Message;
        }
        finally
        {
            _lifecycle.Release();
        }
        return EndMigration(error, outcome, clock.Elapsed);
    }

    /// <summary>
    /// After a departure: with <paramref name="movedTo"/>, the desktop runs there now — its viewers are told to reconnect
    /// and its machine here stops; without it (its arrival failed after all), the paused machine stops and the desktop
    /// starts again here.
    /// </summary>
    public async Task FinishDepartureAsync(string? movedTo)
    {
        if (Interlocked.Exchange(ref _departed, null) is not { } source)
            return;
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            _stopping = true;
            if (movedTo is not null && MoveSessions is { } move)
            {
                try
                {
                    await move(Id, $"The desktop moved to host {movedTo}; reconnecting.").WaitAsync(s_powerOffGrace).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // A client that does not take the notice in time is closed with its connection anyway.
                }
            }
            else
                await EndSessionsAsync("The desktop's move to another host failed; it restarts here.").ConfigureAwait(false);
            if (_desktop == source)
                _desktop = null;
            _ = await source.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            await source.DisposeAsync().ConfigureAwait(false);
            HostDirectories.Remove(_options, Id);
            (State, StateReason) = (DesktopState.Stopped, movedTo is null ? null : $"It moved to host {movedTo}.");
        }
        finally
        {
            _stopping = false;
            _lifecycle.Release();
        }
        if (movedTo is null)
            await StartAsync().ConfigureAwait(false);
    }
}
