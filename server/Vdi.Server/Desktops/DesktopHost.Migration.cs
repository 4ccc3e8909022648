using System.Net;
using Vdi.Protocol;
using Vdi.Vmm.Host;
using Vdi.Vmm.Migration;

namespace Vdi.Server.Desktops;

/// <summary>
/// Live migration of a running desktop to a new VMM instance (a `vdi-vmm serve --incoming` host, or a machine in this
/// process): the destination is made from the same config, the source sends to it over loopback TCP with a fresh token,
/// and on success the desktop's machine is swapped — viewers are repointed (<see cref="Repoint"/>), input goes to the new
/// machine, crash supervision and the host record follow it — and the source is stopped. On failure the destination is
/// discarded and the desktop runs on its source as before.
/// </summary>
public sealed partial class DesktopHost
{
    private static readonly TimeSpan s_receiveConfirm = TimeSpan.FromSeconds(30);
    private MigrationStatus? _migration;
    private int _migrating;
    private int _migrations; // names each destination's socket in the desktop's folder

    /// <summary>Tests: the source is given a token that is not the destination's (the destination must refuse it).</summary>
    internal bool TestWrongToken { get; set; }

    /// <summary>Tests: the destination while a migration runs, or null.</summary>
    internal IDesktopMachine? MigrationDestination { get; private set; }

    /// <summary>The latest migration's status (running or ended), or null before the first.</summary>
    public MigrationStatus? Migration => Volatile.Read(ref _migration);

    /// <summary>Moves the viewers of the first machine to the second (set by the pool: <see cref="Display.DesktopStreams.Repoint"/>).</summary>
    public Func<IDesktopMachine, IDesktopMachine, Task>? Repoint { get; set; }

    /// <summary>
    /// Starts migrating the running desktop; returns its first status and the task of its end. Throws
    /// <see cref="InvalidOperationException"/> (with the problem's words) when the desktop does not run or already migrates.
    /// </summary>
    public (MigrationStatus Status, Task<MigrationStatus> Ended) StartMigration(MigrationOptions options) => StartMigration(options, intoPair: false);

    /// <param name="intoPair">The destination is a fault-tolerant pair's primary (fault tolerance switched on while the desktop runs).</param>
    private (MigrationStatus Status, Task<MigrationStatus> Ended) StartMigration(MigrationOptions options, bool intoPair)
    {
        var (source, status) = BeginMigration(options);
        return (status, Task.Run(() => MigrateAsync(source, options, status.StartedAt, intoPair)));
    }

    /// <summary>The running machine to migrate, and the first status; throws with the problem's words when it cannot.</summary>
    private (IDesktopMachine Source, MigrationStatus Status) BeginMigration(MigrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (State != DesktopState.Running || Desktop is not { } source)
            throw new InvalidOperationException($"desktop '{Name}' is {State}: only a running desktop can migrate");
        if (source is Vmm.FaultTolerance.FaultTolerantDesktop)
            throw new InvalidOperationException($"desktop '{Name}' runs as a fault-tolerant pair: its secondary already stands by in another process; switch fault tolerance off (and restart it) to migrate it");
        if (Interlocked.Exchange(ref _migrating, 1) != 0)
            throw new InvalidOperationException($"desktop '{Name}' is already migrating");
        var status = new MigrationStatus(Id, MigrationStatus.Running, "starting", 0, 0, 0, 0, 0, 0, 0, null, null, null, null, DateTimeOffset.UtcNow, null);
        Volatile.Write(ref _migration, status);
        DesktopLog.MigrationStarted(_log, Name, options.DowntimeTarget);
        return (source, status);
    }

    private async Task<MigrationStatus> MigrateAsync(IDesktopMachine source, MigrationOptions options, DateTimeOffset started, bool intoPair)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IDesktopMachine? destination = null;
        string? error;
        MigrationOutcome? outcome = null;
        // One life-cycle change at a time: a stop or start waits for the switch (seconds at most).
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_desktop != source || State != DesktopState.Running)
                throw new InvalidOperationException("the desktop stopped before its migration began");
            (destination, var socket) = intoPair ? await CreatePairPrimaryAsync().ConfigureAwait(false) : await CreateDestinationAsync().ConfigureAwait(false);
            var token = MigrateListenMessage.NewToken();
            var incoming = await destination.AcceptMigrationAsync(token).ConfigureAwait(false);
            MigrationDestination = destination;
            var presented = TestWrongToken ? MigrateListenMessage.NewToken() : token;
            outcome = await source.MigrateToAsync(incoming.Endpoint, presented, options, new Progress(this, started)).ConfigureAwait(false);
            var received = await incoming.Received.WaitAsync(s_receiveConfirm).ConfigureAwait(false);
            // Both sides' words: a source that lost its peer says only that; the destination says why it hung up.
            error = (outcome.Succeeded, received.Succeeded) switch
            {
                (true, true) => null,
                (true, false) => $"the destination: {received.Error}",
                (false, true) => outcome.Error,
                (false, false) => $"{outcome.Error} (the destination: {received.Error})",
            };
            if (error is null)
            {
                if (intoPair)
                    destination = await AdoptPairAsync((RemoteDesktop)destination).ConfigureAwait(false);
                await SwapAsync(source, destination, socket).ConfigureAwait(false);
                destination = null; // the desktop's now
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or HostProtocolException or ArgumentException or MigrationException)
        {
            error = e.Message;
        }
        finally
        {
            MigrationDestination = null;
            _lifecycle.Release();
        }
        if (destination is not null)
            await destination.DisposeAsync().ConfigureAwait(false); // never started: the host stops its machine and exits
        return EndMigration(error, outcome, clock.Elapsed);
    }

    /// <summary>The migration's last status (the API's), written once it ended either way; another may begin after it.</summary>
    private MigrationStatus EndMigration(string? error, MigrationOutcome? outcome, TimeSpan elapsed)
    {
        var last = Volatile.Read(ref _migration)!;
        var ended = last with
        {
            Result = error is null ? MigrationStatus.Succeeded : MigrationStatus.Failed,
            Phase = error is null ? "done" : "failed",
            Error = error,
            DowntimeMs = outcome is { Succeeded: true } ? outcome.Downtime.TotalMilliseconds : null,
            TotalMs = elapsed.TotalMilliseconds,
            Rounds = outcome?.Rounds,
            PagesSent = outcome?.PagesSent ?? last.PagesSent,
            BytesSent = outcome?.BytesSent ?? last.BytesSent,
            EndedAt = DateTimeOffset.UtcNow,
        };
        Volatile.Write(ref _migration, ended);
        Volatile.Write(ref _migrating, 0);
        if (error is null)
            DesktopLog.Migrated(_log, Name, ended.DowntimeMs ?? 0, ended.TotalMs ?? 0, ended.Rounds ?? 0, ended.BytesSent);
        else
            DesktopLog.MigrationFailed(_log, Name, error);
        return ended;
    }

    /// <summary>A machine from the desktop's config, never booted: a host process in the desktop's folder under a socket of its own, or one in this process.</summary>
    private async Task<(IDesktopMachine Machine, string SocketName)> CreateDestinationAsync()
    {
        if (CreateMachine is not null)
            throw new InvalidOperationException("this desktop's machines are made by a test hook that cannot receive a migration");
        string? folder = null;
        var socket = $"host-{Interlocked.Increment(ref _migrations)}.sock";
        if (_options.Isolation == DesktopIsolation.Process)
            folder = HostDirectories.PathOf(_options, Id); // the running host's: both hosts' sandboxes reach only it
        var destination = await DesktopMachines.CreateIncomingAsync(Config(), folder, _options.Sandbox, line => DesktopLog.Host(_log, Name, line),
            configure: o => Hosted(o) with { SocketName = socket }).ConfigureAwait(false);
        WatchIntegrity(destination, reset: false); // raised as soon as the restored guest runs
        return (destination, socket);
    }

    /// <summary>Under the life-cycle lock: the destination becomes the desktop's machine, its viewers follow, the source stops.</summary>
    private async Task SwapAsync(IDesktopMachine source, IDesktopMachine destination, string socket)
    {
        if (_desktop != source || State != DesktopState.Running)
            throw new InvalidOperationException("the desktop stopped while it migrated");
        _desktop = destination; // input (the hub asks for Desktop each time) goes to the new machine from here
        if (Repoint is { } repoint)
            await repoint(source, destination).ConfigureAwait(false);
        _ = WatchAsync(destination);
        if (destination is RemoteDesktop { ProcessId: { } pid } && HostProcess.Find(pid) is { } process)
        {
            // The record a restarted broker reattaches by now names the new host.
            var folder = HostDirectories.PathOf(_options, Id);
            HostRecord.Write(folder, process, Path.Combine(folder, socket), _options.DataDirectory, DateTimeOffset.UtcNow);
        }
        // Paused for good since it sent its last pages; WatchAsync ignores its end (it is no longer the desktop's).
        _ = await source.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await source.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The source's progress into the status the API and the dashboard read.</summary>
    private sealed class Progress(DesktopHost host, DateTimeOffset started) : IProgress<MigrationProgress>
    {
        public void Report(MigrationProgress p) => Volatile.Write(ref host._migration, new MigrationStatus(host.Id, MigrationStatus.Running, p.Phase, p.Round,
            p.RoundPages, p.RoundPagesSent, p.PagesSent, p.BytesSent, p.BytesPerSecond, p.Elapsed.TotalMilliseconds, null, null, null, null, started, null));
    }
}
