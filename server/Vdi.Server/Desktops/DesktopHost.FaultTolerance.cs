using Vdi.Protocol;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;

namespace Vdi.Server.Desktops;

/// <summary>
/// A fault-tolerant desktop (<c>docs/vmm.md</c>, "Fault tolerance across processes"): started as a
/// <see cref="FaultTolerantDesktop"/> — a primary host that records, and a secondary host, made from a checkpoint of it,
/// that replays — both sandboxed hosts in the desktop's folder. It needs host processes and one vCPU, and runs on the
/// software engine, where a replay is exact. Its events go to the log and the audit log; "fail over now" kills the
/// primary's host and the secondary takes over, the viewers staying connected.
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
        : Vcpus != 1 ? $"fault tolerance needs a desktop of 1 vCPU (a replay is exact only there); '{Name}' has {Vcpus}"
        : null;

    /// <summary>Kills the primary's host; the secondary takes over. Throws <see cref="InvalidOperationException"/> (with the problem's words) when no secondary follows.</summary>
    public void FailOver(string why)
    {
        if (Pair is not { } pair)
            throw new InvalidOperationException($"desktop '{Name}' is not running as a fault-tolerant pair");
        pair.FailOver(why);
    }

    private async Task<IDesktopMachine> CreatePairAsync()
    {
        if (FaultToleranceRefusal() is { } refused)
            throw new InvalidOperationException(refused);
        var config = Config() with { Engine = EngineChoice.Software };
        var folder = HostDirectories.Create(_options, Id);
        var pair = await FaultTolerantDesktop.CreateAsync(async (role, cancellationToken) =>
        {
            // No reattach: a pair whose broker goes away powers off (its journal is relayed by the broker).
            Func<RemoteDesktopOptions, RemoteDesktopOptions> configure = o => Hosted(o) with
            {
                FaultTolerance = role, ReconnectSeconds = 0, SocketName = $"ft-{Interlocked.Increment(ref _ftHosts)}.sock",
            };
            var host = role == FaultToleranceRole.Secondary
                ? await DesktopMachines.CreateIncomingAsync(config, folder, _options.Sandbox, line => DesktopLog.Host(_log, Name, line), configure, cancellationToken).ConfigureAwait(false)
                : await DesktopMachines.CreateAsync(config, folder, _options.Sandbox, line => DesktopLog.Host(_log, Name, line), configure, cancellationToken).ConfigureAwait(false);
            return (RemoteDesktop)host;
        }, line => DesktopLog.Host(_log, Name, line)).ConfigureAwait(false);
        pair.Changed += (kind, detail) =>
        {
            DesktopLog.FaultTolerance(_log, Name, kind, detail);
            FaultToleranceChanged?.Invoke(this, kind, detail);
        };
        return pair;
    }
}
