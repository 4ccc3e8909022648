namespace Vdi.Vmm.State;

/// <summary>
/// A segment register as the state format holds it: selector, base, limit (bytes, granularity applied) and attributes in
/// the VMX access-rights layout — type (bits 0–3), S (4), DPL (5–6), P (7), AVL (12), L (13), D/B (14), G (15),
/// unusable (16). Engine-neutral: KVM's <c>kvm_segment</c> converts to it field by field.
/// </summary>
public readonly record struct SegmentRegister(ushort Selector, ulong Base, uint Limit, uint Attributes)
{
    public const uint Accessed = 1u << 0;
    public const uint Code = 1u << 3;
    public const uint CodeOrData = 1u << 4; // S: 1 for code or data, 0 for system segments (TSS, LDT)
    public const uint Present = 1u << 7;
    public const uint LongMode = 1u << 13;
    public const uint Default32 = 1u << 14;
    public const uint Unusable = 1u << 16;
    public const uint Defined = 0x1F0FF;

    /// <summary>The order of <see cref="VcpuSnapshot.Segments"/> and of the <c>segments</c> field.</summary>
    public static IReadOnlyList<string> Names { get; } = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldtr"];

    public const int Cs = 0, Ds = 1, Es = 2, Fs = 3, Gs = 4, Ss = 5, Tr = 6, Ldtr = 7, Count = 8;

    public uint Type => Attributes & 0xF;

    public int Dpl => (int)((Attributes >> 5) & 3);

    public bool IsPresent => (Attributes & Present) != 0;

    public bool IsUnusable => (Attributes & Unusable) != 0;

    public override string ToString() => $"selector 0x{Selector:X}, base 0x{Base:X}, limit 0x{Limit:X}, attributes 0x{Attributes:X}";
}
