namespace Vdi.Vmm.Tracing;

/// <summary>Who made a traced write.</summary>
public enum WriteOrigin
{
    /// <summary>A vCPU running in KVM: the write exited as MMIO from a read-only slot.</summary>
    Kvm,

    /// <summary>A vCPU of the software engine.</summary>
    Software,

    /// <summary>A KVM vCPU in an exit-storm software slice.</summary>
    SoftwareSlice,

    /// <summary>A device writing guest memory through <see cref="Memory.GuestMemory"/> (DMA).</summary>
    Device,
}

/// <summary>What happens to a traced write.</summary>
public enum TraceDecision
{
    /// <summary>The write lands as the guest (or device) made it.</summary>
    Apply,

    /// <summary>The write is dropped: a vCPU continues after the instruction, a device sees an error.</summary>
    Refuse,

    /// <summary>The write is dropped and the machine stops, its exit naming the write.</summary>
    Stop,
}

/// <summary>
/// One write to a traced page, as the decision sees it: who made it (a vCPU with its RIP, or a device by name), where,
/// and the bytes there before and the bytes written.
/// </summary>
public sealed record TracedWrite(WriteOrigin Origin, int Vcpu, string? Device, ulong? Rip, ulong Address, byte[] Before, byte[] After)
{
    public int Size => After.Length;

    public override string ToString() =>
        $"{(Device is { } d ? d : $"vcpu {Vcpu}")}{(Rip is { } r ? $" at rip 0x{r:X}" : "")} ({Origin}) wrote {Size} byte(s) at 0x{Address:X}: " +
        $"{Convert.ToHexString(Before)} -> {Convert.ToHexString(After)}";
}

/// <summary>Decides a traced write; runs on the writing vCPU's (or device's) thread, so it must be quick and must not throw.</summary>
public delegate TraceDecision TraceHandler(TracedWrite write);
