using System.Buffers.Binary;

namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// An EDID extension block carrying one DisplayID 2.0 section with a Type VII detailed timing,
/// used for modes an EDID detailed timing descriptor cannot hold (over 4095 pixels or 655.35 MHz),
/// beside the Product Identification, Display Parameters and Display Interface Features blocks.
/// </summary>
/// <remarks>
/// <code>
/// block  0      0x70  EDID extension tag: DisplayID
/// block  1-4    DisplayID section header
///        1      0x20  version 2, revision 0
///        2      N     bytes of data blocks that follow the header (at most 121)
///        3      0x04  primary use case: desktop productivity display
///        4      0x00  DisplayID extension count
/// block  5-     Product Identification (0x20), Display Parameters (0x21), then
///               the Type VII detailed timing data block, then Display Interface Features (0x26):
///        +0     0x22  tag
///        +1     0x00  block revision 0, 20-byte descriptors, no DSC pass-through
///        +2     20    payload bytes (one descriptor)
///        +3-22  descriptor, every length stored minus one, little-endian:
///               +0-2 pixel clock in kHz (24 bits)   +3 options: bit 7 preferred, bits 3-0 aspect
///               +4-5 H active  +6-7 H blank  +8-9 H front porch (bit 15: +hsync)  +10-11 H sync
///               +12-13 V active +14-15 V blank +16-17 V front porch (bit 15: +vsync) +18-19 V sync
/// block  5+N    section checksum: bytes 1 .. 5+N sum to 0 mod 256
///        ...    0 padding
/// block  127    EDID block checksum: bytes 0 .. 127 sum to 0 mod 256
/// </code>
/// Aspect codes: 0 1:1, 1 5:4, 2 4:3, 3 15:9, 4 16:9, 5 16:10, 6 64:27, 7 256:135, 8 undefined.
/// </remarks>
internal static class DisplayIdExtension
{
    public const byte ExtensionTag = 0x70;
    public const byte Version20 = 0x20;
    public const byte TypeViiTag = 0x22;
    public const byte TypeITag = 0x03;
    public const int DescriptorSize = 20;
    public const long MaxPixelClockKHz = 1L << 24;
    public const int MaxActive = 1 << 16;

    private const byte DesktopProductivity = 0x04;
    private const int SectionStart = 1, HeaderSize = 4, MaxSectionBytes = 121;
    private const byte PreferredBit = 0x80, AspectUndefined = 8;

    public static bool Fits(in DisplayTiming t) =>
        t.PixelClockKHz is >= 1 and <= MaxPixelClockKHz
        && t.HActive <= MaxActive && t.HBlank <= MaxActive && t.VActive <= MaxActive && t.VBlank <= MaxActive
        && t.HFrontPorch <= 0x8000 && t.VFrontPorch <= 0x8000 && t.HSync <= MaxActive && t.VSync <= MaxActive;

    /// <summary>
    /// Writes the whole 128-byte extension block with <paramref name="t"/> as the preferred timing, and the Product
    /// Identification, Display Parameters (the physical size in 0.1 mm) and Display Interface Features blocks a
    /// DisplayID 2.0 section must carry (<see cref="DisplayIdDataBlocks"/>), in ascending tag order.
    /// </summary>
    public static void Write(Span<byte> block, in DisplayTiming t, long widthTenthsMm, long heightTenthsMm)
    {
        if (!Fits(t))
            throw new ArgumentOutOfRangeException(nameof(t), t, "the timing does not fit a DisplayID Type VII descriptor");
        block = block[..Edid.BlockSize];
        block.Clear();
        block[0] = ExtensionTag;
        var section = block[SectionStart..];
        var dataBytes = DisplayIdDataBlocks.Size + 3 + DescriptorSize;
        section[0] = Version20;
        section[1] = (byte)dataBytes;
        section[2] = DesktopProductivity;
        section[3] = 0;
        var data = section[HeaderSize..];
        var at = DisplayIdDataBlocks.WriteProductIdentification(data);
        at += DisplayIdDataBlocks.WriteDisplayParameters(data[at..], widthTenthsMm, heightTenthsMm, t.HActive, t.VActive);
        data[at] = TypeViiTag;
        data[at + 1] = 0;
        data[at + 2] = DescriptorSize;
        WriteDescriptor(data.Slice(at + 3, DescriptorSize), t);
        at += 3 + DescriptorSize;
        at += DisplayIdDataBlocks.WriteInterfaceFeatures(data[at..]);
        System.Diagnostics.Debug.Assert(at == dataBytes);
        var sectionLength = HeaderSize + dataBytes;
        section[sectionLength] = Edid.ChecksumFor(section[..sectionLength]);
        block[^1] = Edid.ChecksumFor(block[..^1]);
    }

    /// <summary>
    /// Reads the section in an extension block: its checksum and the first timing flagged preferred
    /// in a Type VII (or DisplayID 1.x Type I) data block.
    /// </summary>
    /// <exception cref="FormatException">The section or one of its data blocks overruns the block.</exception>
    public static (bool ChecksumValid, DisplayTiming? Preferred) Read(ReadOnlySpan<byte> block)
    {
        var section = block[SectionStart..^1];
        int dataBytes = section[1];
        if (dataBytes > MaxSectionBytes)
            throw new FormatException($"DisplayID section declares {dataBytes} data bytes; an EDID extension holds at most {MaxSectionBytes}.");
        var sectionLength = HeaderSize + dataBytes;
        var checksumValid = Edid.Sum(section[..(sectionLength + 1)]) == 0;
        DisplayTiming? preferred = null;
        var data = section.Slice(HeaderSize, dataBytes);
        while (data.Length >= 3 && (data[0] != 0 || data[2] != 0))
        {
            int tag = data[0], revision = data[1] & 0x7, length = data[2];
            if (length + 3 > data.Length)
                throw new FormatException($"DisplayID data block 0x{tag:X2} declares {length} bytes but only {data.Length - 3} remain in the section.");
            var payload = data.Slice(3, length);
            if (preferred is null && tag is TypeViiTag or TypeITag)
            {
                var size = DescriptorSize + (tag == TypeViiTag ? (data[1] >> 4) & 0x7 : 0);
                // From Type VII revision 2 (DisplayID 2.1) bit 7 of the options means YCbCr 4:2:0.
                var hasPreferredFlag = tag == TypeITag || revision < 2;
                for (var offset = 0; offset + size <= payload.Length && preferred is null; offset += size)
                {
                    var d = payload.Slice(offset, size);
                    if (hasPreferredFlag && (d[3] & PreferredBit) != 0)
                        preferred = ReadDescriptor(d, clockUnitKHz: tag == TypeViiTag ? 1 : 10);
                }
            }
            data = data[(3 + length)..];
        }
        return (checksumValid, preferred);
    }

    private static void WriteDescriptor(Span<byte> d, in DisplayTiming t)
    {
        WriteUInt24(d, (int)(t.PixelClockKHz - 1));
        d[3] = (byte)(PreferredBit | AspectCode(t.HActive, t.VActive));
        WriteLength(d[4..], t.HActive);
        WriteLength(d[6..], t.HBlank);
        WriteLength(d[8..], t.HFrontPorch, t.HSyncPositive);
        WriteLength(d[10..], t.HSync);
        WriteLength(d[12..], t.VActive);
        WriteLength(d[14..], t.VBlank);
        WriteLength(d[16..], t.VFrontPorch, t.VSyncPositive);
        WriteLength(d[18..], t.VSync);
    }

    private static DisplayTiming ReadDescriptor(ReadOnlySpan<byte> d, int clockUnitKHz)
    {
        var clock = (d[0] | (d[1] << 8) | (d[2] << 16)) + 1L;
        return new DisplayTiming(
            PixelClockKHz: clock * clockUnitKHz,
            HActive: ReadLength(d[4..]),
            HBlank: ReadLength(d[6..]),
            HFrontPorch: ReadPorch(d[8..]),
            HSync: ReadLength(d[10..]),
            VActive: ReadLength(d[12..]),
            VBlank: ReadLength(d[14..]),
            VFrontPorch: ReadPorch(d[16..]),
            VSync: ReadLength(d[18..]),
            HSyncPositive: (d[9] & 0x80) != 0,
            VSyncPositive: (d[17] & 0x80) != 0);
    }

    private static void WriteUInt24(Span<byte> d, int value)
    {
        d[0] = (byte)value;
        d[1] = (byte)(value >> 8);
        d[2] = (byte)(value >> 16);
    }

    private static void WriteLength(Span<byte> d, int length, bool flag = false) =>
        BinaryPrimitives.WriteUInt16LittleEndian(d, (ushort)((length - 1) | (flag ? 0x8000 : 0)));

    private static int ReadLength(ReadOnlySpan<byte> d) => BinaryPrimitives.ReadUInt16LittleEndian(d) + 1;

    /// <summary>A front porch: bit 15 is the sync polarity, not part of the length.</summary>
    private static int ReadPorch(ReadOnlySpan<byte> d) => (BinaryPrimitives.ReadUInt16LittleEndian(d) & 0x7FFF) + 1;

    private static byte AspectCode(int width, int height)
    {
        ReadOnlySpan<(int H, int V)> codes = [(1, 1), (5, 4), (4, 3), (15, 9), (16, 9), (16, 10), (64, 27), (256, 135)];
        for (var i = 0; i < codes.Length; i++)
        {
            if ((long)width * codes[i].V == (long)height * codes[i].H)
                return (byte)i;
        }
        return AspectUndefined;
    }
}
