using Vdi.Vmm.Interop;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Vcpu;

/// <summary>KVM's segments and XSAVE area to and from the state format's <see cref="SegmentRegister"/> and FXSAVE area.</summary>
internal static class KvmRegisterConversion
{
    public static SegmentRegister ToSegment(in kvm_segment s) => new(s.selector, s.@base, s.limit,
        (s.type & 0xFu) | ((s.s & 1u) << 4) | ((s.dpl & 3u) << 5) | ((s.present & 1u) << 7) | ((s.avl & 1u) << 12)
        | ((s.l & 1u) << 13) | ((s.db & 1u) << 14) | ((s.g & 1u) << 15) | ((s.unusable & 1u) << 16));

    public static kvm_segment ToKvm(SegmentRegister r) => new()
    {
        selector = r.Selector,
        @base = r.Base,
        limit = r.Limit,
        type = (byte)(r.Attributes & 0xF),
        s = (byte)((r.Attributes >> 4) & 1),
        dpl = (byte)((r.Attributes >> 5) & 3),
        present = (byte)((r.Attributes >> 7) & 1),
        avl = (byte)((r.Attributes >> 12) & 1),
        l = (byte)((r.Attributes >> 13) & 1),
        db = (byte)((r.Attributes >> 14) & 1),
        g = (byte)((r.Attributes >> 15) & 1),
        unusable = (byte)((r.Attributes >> 16) & 1),
    };

    public static SegmentRegister[] ToSegments(in kvm_sregs s) =>
        [ToSegment(s.cs), ToSegment(s.ds), ToSegment(s.es), ToSegment(s.fs), ToSegment(s.gs), ToSegment(s.ss), ToSegment(s.tr), ToSegment(s.ldt)];

    public static void SetSegments(ref kvm_sregs s, SegmentRegister[] g)
    {
        (s.cs, s.ds, s.es, s.fs) = (ToKvm(g[SegmentRegister.Cs]), ToKvm(g[SegmentRegister.Ds]), ToKvm(g[SegmentRegister.Es]), ToKvm(g[SegmentRegister.Fs]));
        (s.gs, s.ss, s.tr, s.ldt) = (ToKvm(g[SegmentRegister.Gs]), ToKvm(g[SegmentRegister.Ss]), ToKvm(g[SegmentRegister.Tr]), ToKvm(g[SegmentRegister.Ldtr]));
    }

    private const int XstateBvOffset = 512, ExtendedOffset = 576;
    private const ulong X87AndSse = 0x3;

    /// <summary>
    /// The FXSAVE legacy region of a <c>KVM_GET_XSAVE</c> area (KVM fills components in their initial state with their
    /// initial values), MXCSR_MASK and the bytes past the XMM registers zeroed; null when an extended component (AVX
    /// and up) holds state the format would lose.
    /// </summary>
    public static byte[]? ToFxsave(ReadOnlySpan<byte> xsave)
    {
        var xstateBv = BitConverter.ToUInt64(xsave[XstateBvOffset..]);
        if ((xstateBv & ~X87AndSse) != 0 && xsave[ExtendedOffset..].ContainsAnyExcept((byte)0))
            return null;
        var area = xsave[..FxsaveArea.Size].ToArray();
        area.AsSpan(FxsaveArea.MxcsrMaskOffset, 4).Clear();
        area.AsSpan(FxsaveArea.EndOffset).Clear();
        return area;
    }

    /// <summary>
    /// <paramref name="current"/> (a vCPU's own XSAVE area) with its legacy region replaced by <paramref name="fxsave"/>
    /// (its MXCSR_MASK kept) and x87 and SSE marked in use, so XRSTOR loads them rather than their initial state.
    /// </summary>
    public static byte[] WithFxsave(byte[] current, ReadOnlySpan<byte> fxsave)
    {
        var area = (byte[])current.Clone();
        fxsave[..FxsaveArea.MxcsrMaskOffset].CopyTo(area);
        fxsave[FxsaveArea.StOffset..FxsaveArea.EndOffset].CopyTo(area.AsSpan(FxsaveArea.StOffset));
        var xstateBv = BitConverter.ToUInt64(area, XstateBvOffset) | X87AndSse;
        BitConverter.TryWriteBytes(area.AsSpan(XstateBvOffset), xstateBv);
        return area;
    }
}
