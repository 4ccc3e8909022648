namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// What a <see cref="SoftCpu"/> sees of its machine: memory (RAM, the local APIC, the I/O APIC and device MMIO),
/// ports, and shutdown. <see cref="SoftMachineBus"/> is the machine's; tests provide recording ones.
/// </summary>
internal interface ISoftBus
{
    /// <summary>Copies up to 15 bytes of code at <paramref name="rip"/> into <paramref name="window"/>; returns how many (0: not RAM).</summary>
    int Fetch(ulong rip, Span<byte> window);

    ulong ReadMemory(SoftCpu cpu, ulong address, int size);

    void WriteMemory(SoftCpu cpu, ulong address, int size, ulong value);

    ulong PortIn(SoftCpu cpu, ushort port, int size);

    void PortOut(SoftCpu cpu, ushort port, int size, ulong value);

    void TripleFault(SoftCpu cpu);

    /// <summary>
    /// Held while a <c>lock</c>ed instruction that cannot be one host atomic runs on a bus without a
    /// <see cref="Guard"/> (test machines that interleave their vCPUs on one thread).
    /// </summary>
    Lock AtomicGate { get; }

    /// <summary>
    /// Stores <paramref name="count"/> elements of <paramref name="elementSize"/> bytes with <paramref name="value"/>
    /// from <paramref name="address"/> upwards in one go, when that range is plain RAM; false makes the CPU store them
    /// one at a time through <see cref="WriteMemory"/>.
    /// </summary>
    bool TryFill(ulong address, int elementSize, ulong value, ulong count) => false;

    /// <summary>Copies <paramref name="bytes"/> bytes upwards when both ranges are plain RAM; false: one element at a time.</summary>
    bool TryCopy(ulong destination, ulong source, ulong bytes) => false;

    /// <summary>
    /// Bumped whenever a write lands on a page the CPUs fetched code from; a CPU whose decoded instructions were
    /// cached under an older value decodes again, so code the guest rewrites runs as written.
    /// </summary>
    long CodeVersion => 0;

    /// <summary>Guest RAM the CPU may access directly through host pointers; null: every access goes through this bus.</summary>
    SoftRam? Ram => null;

    /// <summary>The machine's concurrency guard; null: a <c>lock</c>ed access that is not one host atomic takes <see cref="AtomicGate"/>.</summary>
    ConcurrencyGuard? Guard => null;

    /// <summary>Notes that code is fetched from the page holding <paramref name="rip"/>.</summary>
    void NoteCodePage(ulong rip)
    {
    }
}
