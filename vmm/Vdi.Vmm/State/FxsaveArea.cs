using System.Buffers.Binary;

namespace Vdi.Vmm.State;

/// <summary>
/// The x87/SSE state in the 512-byte FXSAVE layout (64-bit form): FCW (0), FSW (2), the abridged tag word FTW (4), FOP
/// (6), FIP (8), FDP (16), MXCSR (24), MXCSR_MASK (28, always 0 here: no engine's state carries it), ST0–ST7 (32, 16
/// bytes each, 10 used), XMM0–XMM15 (160, 16 bytes each); bytes 416–511 are zero.
/// </summary>
public static class FxsaveArea
{
    public const int Size = 512;
    public const int FcwOffset = 0, FswOffset = 2, FtwOffset = 4, FopOffset = 6, FipOffset = 8, FdpOffset = 16;
    public const int MxcsrOffset = 24, MxcsrMaskOffset = 28, StOffset = 32, XmmOffset = 160, XmmBytes = 256, EndOffset = 416;

    public const ushort ResetFcw = 0x37F;
    public const uint ResetMxcsr = 0x1F80;

    /// <summary>The state after reset (<c>fninit</c> and MXCSR's default): FCW 0x37F, MXCSR 0x1F80, every register zero.</summary>
    public static byte[] Reset()
    {
        var area = new byte[Size];
        BinaryPrimitives.WriteUInt16LittleEndian(area.AsSpan(FcwOffset), ResetFcw);
        BinaryPrimitives.WriteUInt32LittleEndian(area.AsSpan(MxcsrOffset), ResetMxcsr);
        return area;
    }

    public static bool IsReset(ReadOnlySpan<byte> area) => area.SequenceEqual(Reset());

    /// <summary>The control words: the x87 control word and MXCSR (settings, not data).</summary>
    public static (ushort Fcw, uint Mxcsr) Controls(ReadOnlySpan<byte> area) =>
        (BinaryPrimitives.ReadUInt16LittleEndian(area[FcwOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(area[MxcsrOffset..]));

    /// <summary>The reset state with the control words <paramref name="fcw"/> and <paramref name="mxcsr"/>.</summary>
    public static byte[] WithControls(ushort fcw, uint mxcsr)
    {
        var area = Reset();
        BinaryPrimitives.WriteUInt16LittleEndian(area.AsSpan(FcwOffset), fcw);
        BinaryPrimitives.WriteUInt32LittleEndian(area.AsSpan(MxcsrOffset), mxcsr);
        return area;
    }

    /// <summary>
    /// Whether the area holds data beyond its control words: a register's value, a tag, a status bit, the last
    /// instruction's opcode or pointers. An FPU that never ran an x87 or SSE instruction holds none.
    /// </summary>
    public static bool HoldsData(ReadOnlySpan<byte> area)
    {
        var (fcw, mxcsr) = Controls(area);
        return !area.SequenceEqual(WithControls(fcw, mxcsr));
    }

    /// <summary>Where <paramref name="area"/> leaves the reset state, in words (for a refusal's message).</summary>
    public static string Difference(ReadOnlySpan<byte> area)
    {
        var reset = Reset();
        var parts = new List<string>();
        if (!area[..StOffset].SequenceEqual(reset.AsSpan(0, StOffset)))
        {
            parts.Add($"FCW 0x{BinaryPrimitives.ReadUInt16LittleEndian(area[FcwOffset..]):X}, FSW 0x{BinaryPrimitives.ReadUInt16LittleEndian(area[FswOffset..]):X}, "
                + $"FTW 0x{area[FtwOffset]:X}, MXCSR 0x{BinaryPrimitives.ReadUInt32LittleEndian(area[MxcsrOffset..]):X}");
        }
        if (area[StOffset..XmmOffset].ContainsAnyExcept((byte)0))
            parts.Add("x87 registers hold values");
        if (area[XmmOffset..(XmmOffset + XmmBytes)].ContainsAnyExcept((byte)0))
            parts.Add("XMM registers hold values");
        if (area[EndOffset..].ContainsAnyExcept((byte)0))
            parts.Add("reserved bytes are not zero");
        return string.Join("; ", parts);
    }
}
