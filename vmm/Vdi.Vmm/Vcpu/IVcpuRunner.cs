namespace Vdi.Vmm.Vcpu;

/// <summary>
/// One vCPU's thread as a <see cref="Machine.Machine"/> drives it, whichever engine runs the guest: start it, kick it
/// out of guest code (to the pause rendezvous), ask it to stop, wait for it. Implemented by <see cref="VcpuThread"/>
/// (KVM) and <see cref="Execution.Software.SoftVcpuThread"/> (the software engine), both on the shared life cycle of
/// <see cref="VcpuThreadBase"/>.
/// </summary>
internal interface IVcpuRunner : IDisposable
{
    int Id { get; }

    VcpuState State { get; }

    /// <summary>Exits to the VMM (KVM) or device accesses (software engine): the VMM's share of the work.</summary>
    long Exits { get; }

    /// <summary>Exit-storm switches of a KVM vCPU (to the software engine and back); null when switching is off or on the software engine.</summary>
    Execution.Switching.EngineSwitchStats? EngineSwitches { get; }

    /// <summary>CPU time the thread has used so far, or null once it has finished.</summary>
    TimeSpan? CpuTime { get; }

    /// <summary>Starts the thread; returns once it runs the guest.</summary>
    void Start();

    /// <summary>Makes the thread leave guest code soon and look at its flags (pause, stop).</summary>
    void Kick();

    /// <summary>Asks the thread to finish; returns at once.</summary>
    void RequestStop();

    bool Join(TimeSpan timeout);

    /// <summary>The vCPU's CR3. Only while the vCPU is parked (or not started).</summary>
    ulong ReadCr3();

    /// <summary>
    /// Makes the vCPU take a page fault for <paramref name="address"/> with <paramref name="errorCode"/> before its next
    /// instruction, as if that instruction had faulted; a halted vCPU wakes for it. Only while the vCPU is parked.
    /// </summary>
    void InjectPageFault(ulong address, uint errorCode);

    /// <summary>The vCPU's state, engine-neutral. Only while the vCPU is parked, not started, or finished.</summary>
    State.VcpuSnapshot SaveState();

    /// <summary>Refuses (a <see cref="State.StateFormatException"/>, nothing changed) a snapshot this engine cannot run.</summary>
    void CheckState(State.VcpuSnapshot snapshot);

    /// <summary>Takes <paramref name="snapshot"/>; only before the vCPU starts. Refused (a <see cref="State.StateFormatException"/>) when this engine cannot run it.</summary>
    void RestoreState(State.VcpuSnapshot snapshot);
}
