using Vdi.Protocol;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Migration;

namespace Vdi.Server.Desktops;

/// <summary>
/// A fault-tolerant desktop (<c>docs/vmm.md</c>, "Fault tolerance across processes"): started as a
/// <see cref="FaultTolerantDesktop"/> — a primary host that records, and a secondary host, made from a checkpoint of it,
/// that replays — both sandboxed hosts in the desktop's folder. It needs host processes and one vCPU. The primary runs
/// on the engine the desktop's setting chooses, the secondary on the primary's: exact lockstep on the software engine,
/// quasi-lockstep on KVM. Switched on while the desktop runs, the desktop moves into a pair by live
/// migration; switched off, the pair lets its secondary go. Its events go to the log and the audit log; "fail over
/// now" kills the primary's host and the secondary takes over, the viewers staying connected.
/// </summary>
public sealed partial class DesktopHost
{
    private int _ftHosts; // names each host's socket in the desktop's folder

    /// <summary>The setting: the desktop starts as a fault-tolerant pair.</summary>
    public bool FaultTolerant { get; set; }

    /// <summary>Each event of a running pair ("protected", "failed-over", …, and what happened), for the audit log (set by the pool).</summary>
    public Action<DesktopHost, string, string>? FaultToleranceChanged { get; set; }

    /// <summary>The running pair, or null (not running, or not fault-tolerant).</summary>
    public FaultTolerantDesktop? Pair => Desktop as FaultTolerantDesktop;

    /// <summary>The setting and, while a pair runs, its state.</summary>
    public FaultToleranceSummary FaultToleranceSummary => Pair?.Status is { } s
        ? new FaultToleranceSummary(FaultTolerant, s.State, s.PrimaryProcessId, s.SecondaryProcessId, s.Lag, s.HeldOutputs, s.ReleasedOutputs, s.Resyncs, s.Failovers,
            s.SecondariesLost, s.LastEvent, s.LastEventAt, s.LastCheckpointPauseMs)
        : new FaultToleranceSummary(FaultTolerant, State == DesktopState.Running ? "off" : "stopped");

    /// <summary>Why this desktop cannot run as a pair, or null when it can.</summary>
    public string? FaultToleranceRefusal() =>
        _options.Isolation != DesktopIsolation.Process ? "fault tolerance needs desktops in host processes of their own (Vdi:Desktops:Isolation = Process)"
        : Vcpus != 1 ? $"fault tolerance needs a desktop of 1 vCPU (the journal orders one vCPU's execution); '{Name}' has {Vcpus}"
        : null;

    /// <summary>Kills the primary's host; the secondary takes over. Throws <see cref="InvalidOperationException"/> (with the problem's words) when no secondary follows.</summary>
    public void FailOver(string why)
    {
        if (Pair is not { } pair)
            throw new InvalidOperationException($"desktop '{Name}' is not running as a fault-tolerant pair");
        pair.FailOver(why);
    }

    /// <summary>
    /// Switches fault tolerance on or off on the running desktop: on, it moves by live migration into a new primary
    /// host that records, and a secondary follows it (the viewers stay connected, as for any migration); off, the pair
    /// lets its secondary go and runs on alone. Returns null when done (or nothing runs), else why not (then it applies
    /// at the next start).
    /// </summary>
    public async Task<string?> ApplyFaultToleranceAsync()
    {
        if (State != DesktopState.Running || Desktop is not { } running)
            return null;
        if (!FaultTolerant)
        {
            if (running is FaultTolerantDesktop pair)
                await pair.StopProtectingAsync("fault tolerance was switched off").ConfigureAwait(false);
            return null;
        }
        if (running is FaultTolerantDesktop on)
        {
            on.ProtectAgain("fault tolerance was switched on again");
            return null;
        }
        if (FaultToleranceRefusal() is { } refused)
            return refused;
        if (running is not RemoteDesktop)
            return "only a desktop in a host process of its own moves into a pair while it runs";
        try
        {
            var ended = await StartMigration(new MigrationOptions(), intoPair: true).Ended.ConfigureAwait(false);
            return ended.Result == MigrationStatus.Succeeded ? null : $"the move into a fault-tolerant pair failed: {ended.Error}";
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    private async Task<IDesktopMachine> CreatePairAsync()
    {
        if (FaultToleranceRefusal() is { } refused)
            throw new InvalidOperationException(refused);
        return Watched(await FaultTolerantDesktop.CreateAsync(LaunchPairHostAsync, line => DesktopLog.Host(_log, Name, line)).ConfigureAwait(false));
    }

    /// <summary>A primary host that receives the running desktop by live migration (fault tolerance switched on while it runs).</summary>
    private async Task<(IDesktopMachine Machine, string SocketName)> CreatePairPrimaryAsync()
    {
        var socket = $"ft-{Interlocked.Increment(ref _ftHosts)}.sock";
        var host = await LaunchPairHostAsync(FaultToleranceRole.Primary, EngineChoice.Auto, incoming: true, socket, CancellationToken.None).ConfigureAwait(false);
        WatchIntegrity(host, reset: false);
        return (host, socket);
    }

    /// <summary>The received primary, running, made a pair: a secondary is made from it at once.</summary>
    private async Task<IDesktopMachine> AdoptPairAsync(RemoteDesktop primary) =>
        Watched(await FaultTolerantDesktop.AdoptAsync(primary, LaunchPairHostAsync, line => DesktopLog.Host(_log, Name, line)).ConfigureAwait(false));

    private Task<RemoteDesktop> LaunchPairHostAsync(FaultToleranceRole role, EngineChoice engine, CancellationToken cancellationToken) =>
        LaunchPairHostAsync(role, engine, incoming: role == FaultToleranceRole.Secondary, $"ft-{Interlocked.Increment(ref _ftHosts)}.sock", cancellationToken);

    /// <param name="engine">Auto: the desktop's own setting; else the engine the host must run (a secondary's is its primary's).</param>
    private async Task<RemoteDesktop> LaunchPairHostAsync(FaultToleranceRole role, EngineChoice engine, bool incoming, string socket, CancellationToken cancellationToken)
    {
        var config = Config();
        if (engine != EngineChoice.Auto)
            config = config with { Engine = engine };
        var folder = HostDirectories.PathOf(_options, Id);
        // No reattach: a pair whose broker goes away powers off (its journal is relayed by the broker).
        Func<RemoteDesktopOptions, RemoteDesktopOptions> configure = o => Hosted(o) with { FaultTolerance = role, ReconnectSeconds = 0, SocketName = socket };
        var host = incoming
            ? await DesktopMachines.CreateIncomingAsync(config, folder, _options.Sandbox, line => DesktopLog.Host(_log, Name, line), configure, cancellationToken).ConfigureAwait(false)
            : await DesktopMachines.CreateAsync(config, folder, _options.Sandbox, line => DesktopLog.Host(_log, Name, line), configure, cancellationToken).ConfigureAwait(false);
        return (RemoteDesktop)host;
    }

    /// <summary>The pair's events to the log and the audit log.</summary>
    private FaultTolerantDesktop Watched(FaultTolerantDesktop pair)
    {
        pair.Changed += (kind, detail) =>
        {
            DesktopLog.FaultTolerance(_log, Name, kind, detail);
            FaultToleranceChanged?.Invoke(this, kind, detail);
        };
        return pair;
    }
}
