namespace Vdi.Vmm.State;

/// <summary>
/// One vCPU's state, engine-neutral (<c>docs/vmm.md</c>, "Machine state"): general registers, RIP, RFLAGS, control
/// registers and EFER, the segment registers and the GDT and IDT registers, the MSRs of
/// <see cref="ModelSpecificRegisters.Saved"/>, the x87/SSE state (<see cref="FxsaveArea"/>), whether it is halted or
/// in an interrupt shadow, its retired-instruction count, and its local APIC — the register page (1 KiB, each 32-bit
/// register at its offset, as <c>kvm_lapic_state</c> holds it), the timer's time left and the interrupt request and
/// in-service sets. Each engine converts to and from it; a state saved on one engine restores on the other where the
/// other can run it. Section <c>vcpu.N</c>, version 2 (version 1 lacked segments, GDT, MSRs and FPU: refused).
/// </summary>
public sealed record VcpuSnapshot
{
    public const ushort Version = 2;
    public const int ApicPageSize = 1024;

    public required ulong[] Gprs { get; init; }

    public required ulong Rip { get; init; }

    public required ulong Rflags { get; init; }

    public required ulong Cr0 { get; init; }

    public required ulong Cr2 { get; init; }

    public required ulong Cr3 { get; init; }

    public required ulong Cr4 { get; init; }

    public required ulong Efer { get; init; }

    public required ulong IdtBase { get; init; }

    public required ushort IdtLimit { get; init; }

    /// <summary>CS, DS, ES, FS, GS, SS, TR, LDTR (<see cref="SegmentRegister.Names"/>).</summary>
    public required SegmentRegister[] Segments { get; init; }

    public required ulong GdtBase { get; init; }

    public required ushort GdtLimit { get; init; }

    /// <summary>
    /// The values of <see cref="ModelSpecificRegisters.Saved"/>, in its order; null for an MSR the saving vCPU does not
    /// have (its host's KVM does not list it: the guest there has no such MSR).
    /// </summary>
    public required ulong?[] Msrs { get; init; }

    /// <summary>The x87/SSE state, 512 bytes in FXSAVE layout.</summary>
    public required byte[] Fpu { get; init; }

    public required bool Halted { get; init; }

    public required bool InterruptShadow { get; init; }

    public required long InstructionsRetired { get; init; }

    /// <summary>
    /// The vCPU's exits to the VMM so far on KVM (an execution journal's count there, carried to the machine a
    /// checkpoint makes); 0 from the software engine. Field <c>exits</c>, absent in older states (read as 0).
    /// </summary>
    public long Exits { get; init; }

    /// <summary>The local APIC's register page (IRR and ISR are in <see cref="Irr"/> and <see cref="Isr"/>, not here).</summary>
    public required byte[] Apic { get; init; }

    /// <summary>Nanoseconds until the APIC timer expires; -1 when it is stopped.</summary>
    public required long ApicTimerNanoseconds { get; init; }

    /// <summary>Requested vectors, 256 bits.</summary>
    public required ulong[] Irr { get; init; }

    /// <summary>Vectors in service, 256 bits.</summary>
    public required ulong[] Isr { get; init; }

    public static string SectionName(int vcpu) => $"vcpu.{vcpu}";

    public void Write(StateWriter writer, int vcpu) => writer.Section(SectionName(vcpu), Version, s => s
        .U64s("gprs", Gprs)
        .U64("rip", Rip)
        .U64("rflags", Rflags)
        .U64("cr0", Cr0)
        .U64("cr2", Cr2)
        .U64("cr3", Cr3)
        .U64("cr4", Cr4)
        .U64("efer", Efer)
        .U64("idt_base", IdtBase)
        .U64("idt_limit", IdtLimit)
        .U64s("segments", [.. Segments.SelectMany(g => (ulong[])[g.Selector, g.Base, g.Limit, g.Attributes])])
        .U64("gdt_base", GdtBase)
        .U64("gdt_limit", GdtLimit)
        .U64s("msrs", [.. ModelSpecificRegisters.Saved.SelectMany((m, i) => Msrs[i] is { } value ? (ulong[])[m.Index, value] : [])])
        .U64s("msrs_absent", [.. ModelSpecificRegisters.Saved.Where((_, i) => Msrs[i] is null).Select(m => (ulong)m.Index)])
        .Bytes("fpu", Fpu)
        .Bool("halted", Halted)
        .Bool("interrupt_shadow", InterruptShadow)
        .I64("instructions", InstructionsRetired)
        .I64("exits", Exits)
        .Bytes("apic", Apic)
        .I64("apic_timer_ns", ApicTimerNanoseconds)
        .U64s("irr", Irr)
        .U64s("isr", Isr));

    /// <summary>Reads vCPU <paramref name="vcpu"/>'s section; every field checked, none left unread.</summary>
    public static VcpuSnapshot Read(SavedState state, int vcpu)
    {
        var s = state.Take(SectionName(vcpu), Version);
        if (s.Version < Version)
            throw new StateFormatException($"section '{s.Name}' is version {s.Version}: without segments, MSRs and FPU state it does not restore a vCPU whole");
        var snapshot = new VcpuSnapshot
        {
            Gprs = Exactly(s, "gprs", 16),
            Rip = s.U64("rip"),
            Rflags = s.U64("rflags"),
            Cr0 = s.U64("cr0"),
            Cr2 = s.U64("cr2"),
            Cr3 = s.U64("cr3"),
            Cr4 = s.U64("cr4"),
            Efer = s.U64("efer"),
            IdtBase = s.U64("idt_base"),
            IdtLimit = (ushort)s.U64("idt_limit", 0, ushort.MaxValue),
            Segments = ReadSegments(s),
            GdtBase = s.U64("gdt_base"),
            GdtLimit = (ushort)s.U64("gdt_limit", 0, ushort.MaxValue),
            Msrs = ReadMsrs(s),
            Fpu = ReadFpu(s),
            Halted = s.Bool("halted"),
            InterruptShadow = s.Bool("interrupt_shadow"),
            InstructionsRetired = s.I64("instructions"),
            Exits = s.Has("exits") ? s.I64("exits") : 0,
            Apic = s.Bytes("apic", ApicPageSize),
            ApicTimerNanoseconds = s.I64("apic_timer_ns"),
            Irr = Exactly(s, "irr", 4),
            Isr = Exactly(s, "isr", 4),
        };
        s.EnsureAllRead();
        if (snapshot.ApicTimerNanoseconds < -1 || snapshot.InstructionsRetired < 0 || snapshot.Exits < 0)
            throw new StateFormatException($"section '{s.Name}': a negative timer, instruction or exit count");
        return snapshot;
    }

    private static SegmentRegister[] ReadSegments(SavedSection s)
    {
        var values = Exactly(s, "segments", SegmentRegister.Count * 4);
        var segments = new SegmentRegister[SegmentRegister.Count];
        for (var i = 0; i < segments.Length; i++)
        {
            var (selector, @base, limit, attributes) = (values[i * 4], values[(i * 4) + 1], values[(i * 4) + 2], values[(i * 4) + 3]);
            if (selector > ushort.MaxValue || limit > uint.MaxValue || (attributes & ~(ulong)SegmentRegister.Defined) != 0)
                throw new StateFormatException($"section '{s.Name}': segment {SegmentRegister.Names[i]} has a selector, limit or attributes out of range");
            segments[i] = new SegmentRegister((ushort)selector, @base, (uint)limit, (uint)attributes);
        }
        return segments;
    }

    /// <summary>
    /// Index/value pairs (<c>msrs</c>) and the indices the saving vCPU did not have (<c>msrs_absent</c>): together
    /// exactly the set of <see cref="ModelSpecificRegisters.Saved"/>, each in its order, none twice.
    /// </summary>
    private static ulong?[] ReadMsrs(SavedSection s)
    {
        var saved = ModelSpecificRegisters.Saved;
        var pairs = s.U64s("msrs");
        var absent = s.U64s("msrs_absent");
        if (pairs.Length % 2 != 0 || (pairs.Length / 2) + absent.Length != saved.Count)
            throw new StateFormatException($"section '{s.Name}': the MSRs saved and absent are not the {saved.Count} of the set");
        var values = new ulong?[saved.Count];
        var (pair, gap) = (0, 0);
        for (var i = 0; i < saved.Count; i++)
        {
            if (pair < pairs.Length && pairs[pair] == saved[i].Index)
            {
                values[i] = pairs[pair + 1];
                pair += 2;
            }
            else if (gap < absent.Length && absent[gap] == saved[i].Index)
            {
                gap++;
            }
            else
            {
                throw new StateFormatException($"section '{s.Name}': MSR {ModelSpecificRegisters.Name(saved[i].Index)} is neither saved nor said absent, in the set's order");
            }
        }
        return values;
    }

    private static byte[] ReadFpu(SavedSection s)
    {
        var fpu = s.Bytes("fpu", FxsaveArea.Size);
        var area = fpu.AsSpan();
        if (BitConverter.ToUInt32(fpu, FxsaveArea.MxcsrOffset) > 0xFFFF || area[FxsaveArea.MxcsrMaskOffset..FxsaveArea.StOffset].ContainsAnyExcept((byte)0)
            || area[FxsaveArea.EndOffset..].ContainsAnyExcept((byte)0))
            throw new StateFormatException($"section '{s.Name}': field 'fpu' has reserved MXCSR bits, an MXCSR mask or reserved bytes set");
        return fpu;
    }

    private static ulong[] Exactly(SavedSection s, string field, int count)
    {
        var values = s.U64s(field);
        return values.Length == count ? values : throw new StateFormatException($"section '{s.Name}': field '{field}' has {values.Length} values, not {count}");
    }
}
