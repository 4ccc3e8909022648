using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;

namespace Vdi.Server.Desktops;

/// <summary>
/// One desktop's VM, behind <see cref="IDesktopMachine"/>: in a sandboxed host process of its own
/// (<see cref="DesktopIsolation.Process"/>) or in this one. Start failures and crashes stay inside: the desktop shows
/// as Failed or Crashed with the reason (a host process's death names its signal, or the system call seccomp refused),
/// its sessions end, it can be started again, and nothing else is affected.
/// </summary>
public sealed partial class DesktopHost : IAsyncDisposable
{
    private static readonly Lazy<GuestImage> s_image = new(DesktopGuest.Build);
    private static readonly TimeSpan s_powerOffGrace = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _lifecycle = new(1, 1); // one start/stop at a time
    private readonly ILogger _log;
    private readonly DesktopOptions _options;
    private readonly CrashRestarts _restarts;
    private IDesktopMachine? _desktop;
    private int _crashes; // which crash an automatic restart answers: a newer crash or a start by hand supersedes it
    private volatile bool _stopping; // sessions are being ended: no new one may reach the machine

    public DesktopHost(Guid id, string name, int vcpus, int memoryMiB, int maxWidth, int maxHeight, DesktopOptions options, ILogger log)
    {
        _options = options;
        _restarts = new CrashRestarts(options, TimeProvider.System);
        Id = id;
        Name = name;
        Vcpus = vcpus;
        MemoryMiB = memoryMiB;
        MaxWidth = maxWidth;
        MaxHeight = maxHeight;
        _log = log;
    }

    public Guid Id { get; }

    public string Name { get; }

    public int Vcpus { get; }

    public int MemoryMiB { get; }

    public int MaxWidth { get; }

    public int MaxHeight { get; }

    public DesktopState State { get; private set; } = DesktopState.Stopped;

    public string? StateReason { get; private set; }

    /// <summary>The engine the running VM uses and why ("KVM (available)", "software engine (no usable KVM: …)"), or null.</summary>
    public string? Engine => Desktop?.Engine;

    /// <summary>Where this desktop runs (from the options when it last started).</summary>
    public DesktopIsolation Isolation => _options.Isolation;

    /// <summary>
    /// The sandbox its host process reported (level, then one line per step), or null: in process, or before the
    /// host reported it.
    /// </summary>
    public string? Sandbox => _desktop switch
    {
        RemoteDesktop remote => remote.SandboxReport,
        Vmm.FaultTolerance.FaultTolerantDesktop pair => pair.Primary.SandboxReport,
        _ => null,
    };

    /// <summary>The host process's id while the desktop runs in one, else null.</summary>
    public int? HostProcessId => Desktop switch
    {
        RemoteDesktop remote => remote.ProcessId,
        Vmm.FaultTolerance.FaultTolerantDesktop pair => pair.Primary.ProcessId,
        _ => null,
    };

    /// <summary>The options the last host process was started with (tests check what the sandbox may reach).</summary>
    internal RemoteDesktopOptions? HostOptions { get; private set; }

    /// <summary>Tests: makes the desktop instead of <see cref="DesktopMachines.CreateAsync"/>.</summary>
    internal Func<MachineConfig, Task<IDesktopMachine>>? CreateMachine { get; set; }

    /// <summary>The running desktop, or null.</summary>
    public IDesktopMachine? Desktop => State == DesktopState.Running && !_stopping && _departed is null ? _desktop : null;

    /// <summary>The running VM when it runs in this process (the harness's CPU time and memory reads), else null.</summary>
    public Vmm.Machine.Machine? LocalMachine => (Desktop as LocalDesktop)?.Machine;

    /// <summary>
    /// Ends every session on this desktop (reason <c>desktop-stopped</c>, the clients told the message) before its VM
    /// stops or after it crashed. Set by the pool; the sessions' frames stop before guest memory goes away.
    /// </summary>
    public Func<Guid, string, Task>? EndSessions { get; set; }

    /// <summary>Starts the desktop (a start by hand: the automatic restarts' history is cleared).</summary>
    public Task StartAsync()
    {
        _restarts.Clear();
        Interlocked.Increment(ref _crashes);
        return StartCoreAsync();
    }

    private async Task StartCoreAsync()
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (State is DesktopState.Running or DesktopState.Starting)
                return;
            if (_desktop is { } old)
            {
                // A crashed desktop's remains (its scanout mapping, its process handle).
                _desktop = null;
                await old.DisposeAsync().ConfigureAwait(false);
            }
            (State, StateReason) = (DesktopState.Starting, null);
            IDesktopMachine? desktop = null;
            try
            {
                var config = Config();
                string? hostDirectory = null;
                if (_options.Isolation == DesktopIsolation.Process)
                {
                    // The host process finds KVM itself; a configured device the broker can check first gives the
                    // same refusal as in process.
                    if (_options.Engine == EngineChoice.Kvm)
                        KvmSystem.Open(_options.KvmDevicePath).Dispose();
                    hostDirectory = HostDirectories.Create(_options, Id);
                }
                desktop = CreateMachine is { } create ? await create(config).ConfigureAwait(false) : FaultTolerant ? await CreatePairAsync().ConfigureAwait(false) : await DesktopMachines.CreateAsync(config, hostDirectory, _options.Sandbox, line => DesktopLog.Host(_log, Name, line),
                    configure: o => HostOptions = Hosted(o) with
                    {
                        // Recorded before it listens: a broker that dies from here on leaves a host its successor can find.
                        ProcessStarted = p => HostRecord.Write(o.WorkDirectory, p, o.SocketPath, _options.DataDirectory, DateTimeOffset.UtcNow),
                    })
                    .ConfigureAwait(false);
                WatchIntegrity(desktop); // before the guest runs: its driver registers at boot
                await desktop.StartAsync().ConfigureAwait(false);
                _desktop = desktop;
                State = DesktopState.Running;
                _ = WatchAsync(desktop);
                DesktopLog.Started(_log, Name, desktop.Engine);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (desktop is not null)
                    await desktop.DisposeAsync().ConfigureAwait(false);
                (State, StateReason) = (DesktopState.Failed, e.Message);
                DesktopLog.StartFailed(_log, Name, e.Message);
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>The desktop's machine: the same for a start and for a migration's destination.</summary>
    private MachineConfig Config() => new()
    {
        Vcpus = Vcpus,
        MemoryMiB = MemoryMiB,
        Image = s_image.Value,
        Gpu = new GpuOptions { MaxWidth = MaxWidth, MaxHeight = MaxHeight },
        KvmDevicePath = _options.KvmDevicePath,
        Engine = _options.Engine,
        Integrity = Integrity,
    };

    /// <summary>The broker's settings for a host process: its limits, test hooks and reconnect grace.</summary>
    private RemoteDesktopOptions Hosted(RemoteDesktopOptions o) => o with
    {
        TestHooks = _options.TestHooks,
        MemoryLimitMiB = _options.Sandbox ? MemoryMiB + HostOverheadMiB : 0,
        CpuLimitPercent = _options.Sandbox ? Vcpus * 100 + HostOverheadCpuPercent : 0,
        ReconnectSeconds = _options.ReattachSeconds,
    };

    /// <summary>What a host process may use beyond its guest's RAM (the .NET runtime, the VMM, the scanout).</summary>
    private const int HostOverheadMiB = 1024;

    /// <summary>What a host process may use beyond its vCPUs, in percent of a core (its event thread copying the
    /// scanout, the runtime's GC and JIT).</summary>
    private const int HostOverheadCpuPercent = 50;

    /// <param name="why">What the clients of its sessions are told.</param>
    public async Task StopAsync(string why = "The desktop was stopped.")
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_desktop is not { } desktop)
            {
                (State, StateReason) = (DesktopState.Stopped, null);
                return;
            }
            _stopping = true;
            await EndSessionsAsync(why).ConfigureAwait(false);
            if (!desktop.Completion.IsCompleted)
                await desktop.StopAsync(s_powerOffGrace).ConfigureAwait(false);
            _desktop = null;
            // In process: waits for host accesses still under way (leases), then unmaps guest memory.
            // A host process: its scanout mapping goes, after the sessions (and their captures) ended.
            await desktop.DisposeAsync().ConfigureAwait(false);
            HostDirectories.Remove(_options, Id);
            (State, StateReason) = (DesktopState.Stopped, null);
        }
        finally
        {
            _stopping = false;
            _lifecycle.Release();
        }
    }

    private async Task EndSessionsAsync(string why)
    {
        if (EndSessions is not { } end)
            return;
        try
        {
            // A client that does not take the notice in time is closed anyway when its machine goes.
            await end(Id, why).WaitAsync(s_powerOffGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
    }

    public async Task RestartAsync()
    {
        await StopAsync("The desktop is restarting; open it again in a moment.").ConfigureAwait(false);
        await StartAsync().ConfigureAwait(false);
    }

    private async Task WatchAsync(IDesktopMachine desktop)
    {
        var exit = await desktop.Completion.ConfigureAwait(false);
        if (_desktop != desktop || _stopping)
            return; // a stop under way ends the sessions itself
        switch (exit.Kind)
        {
            case DesktopExitKind.Crashed or DesktopExitKind.ProcessDied or DesktopExitKind.ProtocolError:
                (State, StateReason) = (DesktopState.Crashed, exit.Reason);
                DesktopLog.Crashed(_log, Name, exit.Reason);
                RemoveHostRecord();
                var crash = Interlocked.Increment(ref _crashes);
                await EndSessionsAsync($"The desktop crashed: {exit.Reason}.").ConfigureAwait(false);
                if (_options.RestartOnCrash)
                    RestartAfterCrash(crash, exit.Reason);
                break;
            case DesktopExitKind.Detached:
                break;
            default:
                if (State != DesktopState.Running)
                    break;
                RemoveHostRecord();
                var what = exit.Kind == DesktopExitKind.PoweredOff ? "poweredoff" : "stopped";
                (State, StateReason) = (DesktopState.Stopped, $"the guest {what}");
                await EndSessionsAsync($"The desktop stopped (the guest {what}).").ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Stops the VM. The host stays usable afterwards (a late stop or start is harmless), so the lifecycle
    /// lock is never disposed: shutdown may reach a host through the pool's stop and its disposal in either order.</summary>
    public ValueTask DisposeAsync() => new(StopAsync("The desktop was deleted."));
}
