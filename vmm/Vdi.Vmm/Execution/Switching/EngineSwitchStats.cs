namespace Vdi.Vmm.Execution.Switching;

/// <summary>Why a vCPU stayed in KVM although the policy chose a region for the software engine.</summary>
public enum SwitchRefusal
{
    /// <summary>CS/SS/DS/ES/FS/GS are not the VMM's flat CPL-0 long-mode segments (or FS/GS have a base).</summary>
    Segments,

    /// <summary>CR0/CR3/CR4/EFER are not the VMM's long mode with its identity page tables.</summary>
    ControlRegisters,

    /// <summary>RFLAGS has bits the engine does not model (DF, TF, AC, ...).</summary>
    Flags,

    /// <summary>KVM holds an event to inject (exception, interrupt, NMI) or an interrupt shadow.</summary>
    PendingEvent,

    /// <summary>After the pending I/O completed, the next instruction lies outside the region.</summary>
    OutsideRegion,

    /// <summary>Completing the pending I/O produced another exit (string I/O continuing), dispatched in KVM.</summary>
    IoContinues,
}

/// <summary>Why a software slice ended and the vCPU went back to KVM.</summary>
public enum SliceEnd
{
    /// <summary>The code left the hot region (or jumped into it off an instruction boundary).</summary>
    LeftRegion,

    /// <summary><see cref="ExitStormThresholds.QuietInstructions"/> passed without a device access.</summary>
    Quiet,

    /// <summary>The slice's instruction bound.</summary>
    InstructionBound,

    /// <summary>The slice's time bound (interrupt latency).</summary>
    TimeBound,

    /// <summary>
    /// Before something only KVM serves: an access to the local APIC or I/O APIC window or the hypercall port, or an
    /// instruction that raises an exception (KVM runs it again and delivers the exception).
    /// </summary>
    KvmOnly,

    /// <summary>The vCPU was kicked (pause-all, stop).</summary>
    Kicked,

    /// <summary>The guest wrote a page code was fetched from: the region is decoded afresh next time.</summary>
    CodeChanged,
}

/// <summary>
/// One vCPU's engine switches so far: to the software engine, back to KVM, refusals by reason, slice ends by reason,
/// and the work done in slices.
/// </summary>
public sealed record EngineSwitchStats(
    int VcpuId,
    long ToSoftware,
    long ToKvm,
    IReadOnlyDictionary<SwitchRefusal, long> RefusedBy,
    IReadOnlyDictionary<SliceEnd, long> SlicesEndedBy,
    long PatternRegions,
    long RateRegions,
    long SoftwareInstructions,
    long SoftwareDeviceAccesses,
    TimeSpan SoftwareTime,
    TimeSpan LongestSlice)
{
    public long Refused => RefusedBy.Values.Sum();

    public override string ToString() =>
        $"vcpu {VcpuId}: {ToSoftware} to software, {ToKvm} to KVM, {Refused} refused " +
        $"({string.Join(", ", RefusedBy.Where(r => r.Value > 0).Select(r => $"{r.Key} {r.Value}"))}); slices ended " +
        $"{string.Join(", ", SlicesEndedBy.Where(r => r.Value > 0).Select(r => $"{r.Key} {r.Value}"))}; " +
        $"{SoftwareInstructions} instructions, {SoftwareDeviceAccesses} device accesses in software, longest slice {LongestSlice.TotalMicroseconds:F0} µs";
}
