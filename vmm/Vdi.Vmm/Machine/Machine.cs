using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Machine;

/// <summary>
/// A virtual machine as a whole: its memory, buses, devices and vCPU threads, and its life cycle
/// (start, pause-all / resume-all, power-off request, host stop, crash), whichever <see cref="ExecutionEngine"/> runs
/// its vCPUs. Built by <see cref="MachineBuilder"/>.
/// One machine failing never affects another: all state is per machine and nothing here throws
/// on a guest's behalf.
/// </summary>
public sealed partial class Machine : IDisposable
{
    private static readonly TimeSpan s_joinTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_tracePauseTimeout = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new(); // guards _state, _exit, _powerOffCode, _running
    private readonly IVcpuRunner[] _vcpus;
    private readonly Action _release; // frees what the engine built (VM, memory), after the vCPUs
    private readonly PauseRendezvous _rendezvous = new();
    private readonly AccessLeases _leases = new(); // host accesses to guest memory; Dispose waits for them
    private readonly IReadOnlyList<State.IDeviceState> _platform; // interrupt controllers, PIT, clock: the engine's, in restore order
    private readonly TaskCompletionSource<MachineExit> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MachineState _state = MachineState.Created;
    private MachineExit? _exit;
    private int? _powerOffCode;
    private int _running;
    private bool _disposed;

    /// <param name="createVcpus">Makes the vCPU threads, given the machine, its rendezvous and the stop callback.</param>
    /// <param name="release">Frees the engine's resources and guest memory once every vCPU thread is gone.</param>
    internal Machine(
        MachineConfig config, EngineSelection engine, GuestMemory memory, MachineDevices devices,
        Func<Machine, PauseRendezvous, Action<VcpuStop>, IReadOnlyList<IVcpuRunner>> createVcpus, Action release,
        ConcurrencyGuard? guard = null, WriteTracer? tracer = null, IReadOnlyList<State.IDeviceState>? platform = null)
    {
        _platform = platform ?? [];
        Guard = guard ?? new ConcurrencyGuard();
        Tracer = tracer ?? new WriteTracer(memory, devices.Trace, splitSlots: false);
        Tracer.RunPaused = RunPaused;
        Tracer.RunPausedFromVcpu = Guard.RunWithOthersParked;
        Tracer.StopMachine = StopForTrace;
        Config = config;
        Engine = engine;
        Memory = memory;
        Devices = devices;
        _release = release;
        Integrity = new IntegrityMonitor(memory, Tracer, devices.Hypercalls, config.Integrity, devices.Hypercalls.TimeProvider);
        Privileged = new PrivilegedMode(memory, Guard, Integrity, devices.Hypercalls, config.MemoryBytes);
        Dispatcher = new ExitDispatcher(devices.Pio, devices.Mmio, memory, devices.Hypercalls, devices.Accesses, Tracer);
        _vcpus = [.. createVcpus(this, _rendezvous, OnVcpuStopped)];
    }

    public MachineConfig Config { get; }

    /// <summary>The engine running this machine's vCPUs, and why it was chosen.</summary>
    public EngineSelection Engine { get; }

    public GuestMemory Memory { get; }

    public MachineDevices Devices { get; }

    /// <summary>The concurrency guard: locked operations made atomic, and segments run with the other vCPUs stalled.</summary>
    public ConcurrencyGuard Guard { get; }

    /// <summary>Write tracing of guest-physical pages, on either engine and for device writes (<see cref="WriteTracer"/>).</summary>
    public WriteTracer Tracer { get; }

    /// <summary>Guest integrity: the driver's registration, its protected set, integrity mode and the alerts.</summary>
    public IntegrityMonitor Integrity { get; }

    /// <summary>Privileged mode: the driver's code outside the guest's memory, entered by one vCPU with the others parked.</summary>
    public PrivilegedMode Privileged { get; }

    /// <summary>The machine's trace ring: traced writes with their decisions, hypercalls and refused accesses.</summary>
    public TraceRing Trace => Devices.Trace;

    /// <summary>The virtual IOMMU every device DMA goes through, with the dirty bits live migration harvests.</summary>
    public Iommu.VirtualIommu Iommu => Devices.Iommu;

    public SerialOutput Serial => Devices.Com1.Output;

    public AccessLog Accesses => Devices.Accesses;

    public HypercallDispatcher Hypercalls => Devices.Hypercalls;

    internal ExitDispatcher Dispatcher { get; }

    public MachineState State
    {
        get
        {
            lock (_gate)
                return _state;
        }
    }

    public IReadOnlyList<VcpuState> VcpuStates => [.. _vcpus.Select(v => v.State)];

    /// <summary>CPU time each running vCPU thread has used (null for a finished one).</summary>
    public IReadOnlyList<TimeSpan?> VcpuCpuTimes => [.. _vcpus.Select(v => v.CpuTime)];

    /// <summary>Exits handled by all vCPUs so far (device accesses, under the software engine).</summary>
    public long Exits => _vcpus.Sum(v => v.Exits);

    /// <summary>
    /// Per vCPU, its exit-storm engine switches (KVM → software engine → KVM), refusals and slice ends; empty when the
    /// machine runs on the software engine or switching is off (<see cref="MachineConfig.ExitStormSwitching"/>).
    /// </summary>
    public IReadOnlyList<EngineSwitchStats> EngineSwitches => [.. _vcpus.Select(v => v.EngineSwitches).OfType<EngineSwitchStats>()];

    /// <summary>Completes when every vCPU thread has finished, with how the machine ended.</summary>
    public Task<MachineExit> Completion => _completion.Task;

    /// <summary>
    /// A lease for one host access to guest memory (input injection, a capture): while it is held, <see cref="Dispose"/>
    /// does not unmap guest memory. Not held once disposing began: the caller must then skip the access.
    /// <code>using var lease = machine.Lease(); if (!lease.IsHeld) return false;</code>
    /// </summary>
    public MachineLease Lease() => _leases.TryAcquire() ? new MachineLease(_leases) : default;

    /// <summary>Host accesses to guest memory under way now.</summary>
    public int OutstandingLeases => _leases.Outstanding;

    /// <summary>Starts every vCPU thread; returns once all are running the guest.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state != MachineState.Created)
                throw new InvalidOperationException($"machine is {_state}, not created");
            _state = MachineState.Running;
            _running = _vcpus.Length;
        }
        foreach (var vcpu in _vcpus)
            vcpu.Start();
    }

    /// <summary>
    /// Kicks every vCPU out of the guest and returns true when all are parked (those that finished do not count);
    /// false on timeout, or when the machine stops meanwhile (the guest powered off, a crash): nothing stands still then.
    /// </summary>
    public bool PauseAll(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (_state != MachineState.Running)
                throw new InvalidOperationException($"machine is {_state}, not running");
            _rendezvous.RequestPause();
        }
        foreach (var vcpu in _vcpus)
            vcpu.Kick();
        var parked = _rendezvous.WaitAllParked(timeout);
        lock (_gate)
        {
            if (parked && _state == MachineState.Running)
                _state = MachineState.Paused;
        }
        return parked;
    }

    public void ResumeAll()
    {
        lock (_gate)
        {
            if (_state == MachineState.Paused)
                _state = MachineState.Running;
            _rendezvous.Resume();
        }
    }

    /// <summary>Asks the guest to power off: posts the request and raises its interrupt. The guest decides when.</summary>
    public void RequestPowerOff() => Devices.Power.PostRequest(PortMap.HostRequestPowerOff);

    /// <summary>Switches the desktop guest's full-motion workload panel on or off (see <see cref="MachineDevices.SetMotion"/>).</summary>
    public bool SetMotion(bool on) => Devices.SetMotion(on);

    /// <summary>Stops the machine now, whatever the guest is doing.</summary>
    public void Stop()
    {
        _rendezvous.Release();
        foreach (var vcpu in _vcpus)
            vcpu.RequestStop();
    }

    /// <summary>Runs a change of the memory layout with every vCPU parked, when any runs.</summary>
    private void RunPaused(Action change)
    {
        var pause = State == MachineState.Running;
        if (pause && !PauseAll(s_tracePauseTimeout))
        {
            ResumeAll();
            if (_rendezvous.Released)
                throw new InvalidOperationException("the machine stopped during a change of the traced pages");
            throw new TimeoutException("the vCPUs did not park for a change of the traced pages");
        }
        try
        {
            change();
        }
        finally
        {
            if (pause)
                ResumeAll();
        }
    }

    /// <summary>A trace decision stopped the machine: it ends as crashed, naming the write.</summary>
    private void StopForTrace(int vcpu, string reason)
    {
        lock (_gate)
            _exit ??= new MachineExit(MachineExitKind.Crashed, -1, new MachineCrash(Math.Max(vcpu, 0), reason, null, null));
        Stop();
    }

    /// <summary>Called on a vCPU thread by the power port.</summary>
    internal void OnGuestPowerOff(int exitCode)
    {
        lock (_gate)
            _powerOffCode ??= exitCode;
        Stop();
    }

    private void OnVcpuStopped(VcpuStop stop)
    {
        var stopOthers = false;
        MachineExit? finished = null;
        lock (_gate)
        {
            if (_exit is null && stop.Action != ExitAction.Continue)
            {
                _exit = stop.Action == ExitAction.Crash
                    ? new MachineExit(MachineExitKind.Crashed, -1, new MachineCrash(stop.VcpuId, stop.Reason ?? "crashed", stop.Registers, stop.SpecialRegisters))
                    : new MachineExit(MachineExitKind.PoweredOff, _powerOffCode ?? 0, null);
                stopOthers = true;
            }
            if (--_running == 0)
            {
                _exit ??= _powerOffCode is { } code
                    ? new MachineExit(MachineExitKind.PoweredOff, code, null)
                    : new MachineExit(MachineExitKind.Stopped, 0, null);
                _state = _exit.Kind switch
                {
                    MachineExitKind.PoweredOff => MachineState.PoweredOff,
                    MachineExitKind.Crashed => MachineState.Crashed,
                    _ => MachineState.Stopped,
                };
                finished = _exit;
            }
        }
        if (stopOthers)
            Stop();
        if (finished is not null)
        {
            Serial.Complete();
            _completion.TrySetResult(finished);
        }
    }

    /// <summary>Waits for the machine to finish; on timeout stops it and reports it as stopped.</summary>
    public async Task<MachineExit> WaitForExitAsync(TimeSpan timeout)
    {
        var done = await Task.WhenAny(Completion, Task.Delay(timeout)).ConfigureAwait(false);
        if (done != Completion)
            Stop();
        return await Completion.ConfigureAwait(false);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        _leases.Close(); // new host accesses are refused from here on
        Stop();
        // A vCPU thread that never came back, or a host access still under way, may still touch guest memory or its
        // kvm_run page: keep them mapped (a leak) rather than free memory under it.
        if (!_vcpus.All(v => v.Join(s_joinTimeout)) || !_leases.CloseAndWait(s_joinTimeout))
            return;
        foreach (var vcpu in _vcpus)
            vcpu.Dispose();
        _release();
        Privileged.Dispose();
        _leases.Dispose();
    }
}
