using Vdi.Vmm.Interop;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Vcpu;

/// <summary>KVM's segment and FPU structs to and from the state format's <see cref="SegmentRegister"/> and FXSAVE area.</summary>
internal static unsafe class KvmRegisterConversion
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

    /// <summary><c>kvm_fpu</c> as a 512-byte FXSAVE area (MXCSR_MASK 0: KVM does not report it).</summary>
    public static byte[] ToFxsave(in kvm_fpu f)
    {
        var area = new byte[FxsaveArea.Size];
        var span = area.AsSpan();
        BitConverter.TryWriteBytes(span[FxsaveArea.FcwOffset..], f.fcw);
        BitConverter.TryWriteBytes(span[FxsaveArea.FswOffset..], f.fsw);
        span[FxsaveArea.FtwOffset] = f.ftwx;
        BitConverter.TryWriteBytes(span[FxsaveArea.FopOffset..], f.last_opcode);
        BitConverter.TryWriteBytes(span[FxsaveArea.FipOffset..], f.last_ip);
        BitConverter.TryWriteBytes(span[FxsaveArea.FdpOffset..], f.last_dp);
        BitConverter.TryWriteBytes(span[FxsaveArea.MxcsrOffset..], f.mxcsr);
        fixed (byte* fpr = f.fpr, xmm = f.xmm)
        {
            // SAFETY: fpr holds 8 registers of 16 bytes and xmm 16 of 16 bytes, inside the pinned struct.
            new ReadOnlySpan<byte>(fpr, 128).CopyTo(span[FxsaveArea.StOffset..]);
            new ReadOnlySpan<byte>(xmm, FxsaveArea.XmmBytes).CopyTo(span[FxsaveArea.XmmOffset..]);
        }
        return area;
    }

    public static kvm_fpu ToKvmFpu(ReadOnlySpan<byte> area)
    {
        var f = new kvm_fpu
        {
            fcw = BitConverter.ToUInt16(area[FxsaveArea.FcwOffset..]),
            fsw = BitConverter.ToUInt16(area[FxsaveArea.FswOffset..]),
            ftwx = area[FxsaveArea.FtwOffset],
            last_opcode = BitConverter.ToUInt16(area[FxsaveArea.FopOffset..]),
            last_ip = BitConverter.ToUInt64(area[FxsaveArea.FipOffset..]),
            last_dp = BitConverter.ToUInt64(area[FxsaveArea.FdpOffset..]),
            mxcsr = BitConverter.ToUInt32(area[FxsaveArea.MxcsrOffset..]),
        };
        // SAFETY: f is a local; fpr holds 128 bytes and xmm 256, the lengths copied.
        area.Slice(FxsaveArea.StOffset, 128).CopyTo(new Span<byte>(f.fpr, 128));
        area.Slice(FxsaveArea.XmmOffset, FxsaveArea.XmmBytes).CopyTo(new Span<byte>(f.xmm, FxsaveArea.XmmBytes));
        return f;
    }
}
