using System.Buffers.Binary;

namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// The 18-byte EDID detailed timing descriptor (DTD).
/// </summary>
/// <remarks>
/// <code>
/// 0-1   pixel clock, 10 kHz units, little-endian (0 means "display descriptor", not a timing)
/// 2     H active   bits 7-0      3  H blank bits 7-0      4  H active 11-8 | H blank 11-8
/// 5     V active   bits 7-0      6  V blank bits 7-0      7  V active 11-8 | V blank 11-8
/// 8     H front porch 7-0        9  H sync 7-0
/// 10    V front porch 3-0 | V sync 3-0
/// 11    H front porch 9-8 | H sync 9-8 | V front porch 5-4 | V sync 5-4
/// 12    image width mm 7-0      13  image height mm 7-0  14  width 11-8 | height 11-8
/// 15-16 borders (0)
/// 17    flags: bits 4-3 = 11 digital separate sync, bit 2 +vsync, bit 1 +hsync
/// </code>
/// </remarks>
internal static class DetailedTimingDescriptor
{
    public const int Size = 18;
    public const int MaxActive = 4095;
    public const int MaxImageMm = 4095;
    public const long MaxPixelClockKHz = 0xFFFF * 10L;

    private const byte DigitalSeparateSync = 0x18, VSyncPositiveBit = 0x04, HSyncPositiveBit = 0x02;

    /// <summary>Whether every field of <paramref name="t"/> fits the descriptor's bit widths.</summary>
    public static bool Fits(in DisplayTiming t) =>
        t.PixelClockKHz % 10 == 0 && t.PixelClockKHz / 10 is >= 1 and <= 0xFFFF
        && t.HActive <= MaxActive && t.HBlank <= 0xFFF && t.VActive <= MaxActive && t.VBlank <= 0xFFF
        && t.HFrontPorch <= 0x3FF && t.HSync <= 0x3FF && t.VFrontPorch <= 0x3F && t.VSync <= 0x3F;

    public static void Write(Span<byte> d, in DisplayTiming t, int widthMm, int heightMm)
    {
        if (!Fits(t))
            throw new ArgumentOutOfRangeException(nameof(t), t, "the timing does not fit an EDID detailed timing descriptor");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(widthMm, MaxImageMm);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(heightMm, MaxImageMm);
        d = d[..Size];
        d.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(d, (ushort)(t.PixelClockKHz / 10));
        d[2] = (byte)t.HActive;
        d[3] = (byte)t.HBlank;
        d[4] = (byte)(((t.HActive >> 8) << 4) | (t.HBlank >> 8));
        d[5] = (byte)t.VActive;
        d[6] = (byte)t.VBlank;
        d[7] = (byte)(((t.VActive >> 8) << 4) | (t.VBlank >> 8));
        d[8] = (byte)t.HFrontPorch;
        d[9] = (byte)t.HSync;
        d[10] = (byte)(((t.VFrontPorch & 0xF) << 4) | (t.VSync & 0xF));
        d[11] = (byte)(((t.HFrontPorch >> 8) << 6) | ((t.HSync >> 8) << 4) | ((t.VFrontPorch >> 4) << 2) | (t.VSync >> 4));
        d[12] = (byte)widthMm;
        d[13] = (byte)heightMm;
        d[14] = (byte)(((widthMm >> 8) << 4) | (heightMm >> 8));
        d[17] = (byte)(DigitalSeparateSync
            | (t.VSyncPositive ? VSyncPositiveBit : 0)
            | (t.HSyncPositive ? HSyncPositiveBit : 0));
    }

    /// <summary>Decodes a descriptor; false when it is a display descriptor (pixel clock 0).</summary>
    public static bool TryRead(ReadOnlySpan<byte> d, out DisplayTiming timing, out int widthMm, out int heightMm)
    {
        d = d[..Size];
        var clock = BinaryPrimitives.ReadUInt16LittleEndian(d);
        timing = default;
        widthMm = heightMm = 0;
        if (clock == 0)
            return false;
        var separateSync = (d[17] & DigitalSeparateSync) == DigitalSeparateSync;
        timing = new DisplayTiming(
            PixelClockKHz: clock * 10L,
            HActive: d[2] | ((d[4] >> 4) << 8),
            HBlank: d[3] | ((d[4] & 0xF) << 8),
            HFrontPorch: d[8] | ((d[11] >> 6) << 8),
            HSync: d[9] | (((d[11] >> 4) & 0x3) << 8),
            VActive: d[5] | ((d[7] >> 4) << 8),
            VBlank: d[6] | ((d[7] & 0xF) << 8),
            VFrontPorch: (d[10] >> 4) | (((d[11] >> 2) & 0x3) << 4),
            VSync: (d[10] & 0xF) | ((d[11] & 0x3) << 4),
            HSyncPositive: separateSync && (d[17] & HSyncPositiveBit) != 0,
            VSyncPositive: separateSync && (d[17] & VSyncPositiveBit) != 0);
        widthMm = d[12] | ((d[14] >> 4) << 8);
        heightMm = d[13] | ((d[14] & 0xF) << 8);
        return true;
    }
}
