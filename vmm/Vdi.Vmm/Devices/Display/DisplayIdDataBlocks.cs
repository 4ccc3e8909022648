using System.Buffers.Binary;

namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// The DisplayID 2.0 data blocks besides the timing that every DisplayID 2.0 section of an EDID extension must carry:
/// Product Identification (0x20), Display Parameters (0x21: the physical size in 0.1 mm, so the DPI a client asked
/// for survives exactly) and Display Interface Features (0x26). Each writer returns the bytes it wrote: a 3-byte
/// header (tag, revision and flags, payload length) and the payload.
/// </summary>
internal static class DisplayIdDataBlocks
{
    public const byte ProductIdentificationTag = 0x20;
    public const byte DisplayParametersTag = 0x21;
    public const byte InterfaceFeaturesTag = 0x26;

    private const int DisplayParametersPayload = 29, InterfaceFeaturesPayload = 9;
    private const byte ImageSizeInMillimetres = 0x80; // Display Parameters revision byte: sizes in 1 mm, not 0.1 mm
    private const byte AudioNotIntegrated = 0x80;
    private const byte EightBitsPerColour = 0x01, ActiveMatrixLcd = 0x10;
    private const byte Gamma22 = 120; // (100 + x) / 100
    private const byte ModelYearWeek = 0xFF;

    // sRGB primaries and D65 white point (CIE 1931 x, y).
    private static readonly (double X, double Y)[] s_chromaticity = [(0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290)];

    /// <summary>Bytes the three blocks take with <see cref="EdidGenerator.MonitorName"/> as the product name.</summary>
    public static int Size => (3 + 12 + EdidGenerator.MonitorName.Length) + (3 + DisplayParametersPayload) + (3 + InterfaceFeaturesPayload);

    public static int WriteProductIdentification(Span<byte> d)
    {
        var name = EdidGenerator.MonitorName;
        d[0] = ProductIdentificationTag;
        d[1] = 0;
        d[2] = (byte)(12 + name.Length);
        var p = d[3..];
        p[..3].Clear(); // no IEEE OUI of our own
        BinaryPrimitives.WriteUInt16LittleEndian(p[3..], EdidGenerator.ProductCode);
        BinaryPrimitives.WriteUInt32LittleEndian(p[5..], EdidGenerator.SerialNumber);
        p[9] = ModelYearWeek;
        p[10] = (byte)(EdidGenerator.ModelYear - 2000);
        p[11] = (byte)name.Length;
        for (var i = 0; i < name.Length; i++)
            p[12 + i] = (byte)name[i];
        return 3 + d[2];
    }

    /// <param name="widthTenthsMm">Physical width in 0.1 mm.</param>
    /// <param name="heightTenthsMm">Physical height in 0.1 mm.</param>
    public static int WriteDisplayParameters(Span<byte> d, long widthTenthsMm, long heightTenthsMm, int width, int height)
    {
        d[0] = DisplayParametersTag;
        var p = d.Slice(3, DisplayParametersPayload);
        p.Clear();
        if (widthTenthsMm > ushort.MaxValue || heightTenthsMm > ushort.MaxValue)
        {
            d[1] = ImageSizeInMillimetres; // over 6.5 m: whole millimetres
            widthTenthsMm = (widthTenthsMm + 5) / 10;
            heightTenthsMm = (heightTenthsMm + 5) / 10;
        }
        else
        {
            d[1] = 0;
        }
        d[2] = DisplayParametersPayload;
        BinaryPrimitives.WriteUInt16LittleEndian(p, (ushort)widthTenthsMm);
        BinaryPrimitives.WriteUInt16LittleEndian(p[2..], (ushort)heightTenthsMm);
        BinaryPrimitives.WriteUInt16LittleEndian(p[4..], (ushort)width);
        BinaryPrimitives.WriteUInt16LittleEndian(p[6..], (ushort)height);
        p[8] = AudioNotIntegrated; // scan left to right, top to bottom; CIE 1931
        for (var i = 0; i < s_chromaticity.Length; i++)
            WriteChromaticity(p.Slice(9 + (3 * i), 3), s_chromaticity[i]);
        BinaryPrimitives.WriteUInt16LittleEndian(p[21..], BitConverter.HalfToUInt16Bits((Half)250f)); // cd/m², full coverage
        BinaryPrimitives.WriteUInt16LittleEndian(p[23..], BitConverter.HalfToUInt16Bits((Half)250f)); // 10% coverage
        BinaryPrimitives.WriteUInt16LittleEndian(p[25..], BitConverter.HalfToUInt16Bits((Half)0.25f)); // minimum
        p[27] = EightBitsPerColour | ActiveMatrixLcd;
        p[28] = Gamma22;
        return 3 + DisplayParametersPayload;
    }

    public static int WriteInterfaceFeatures(Span<byte> d)
    {
        d[0] = InterfaceFeaturesTag;
        d[1] = 0;
        d[2] = InterfaceFeaturesPayload;
        var p = d.Slice(3, InterfaceFeaturesPayload);
        p.Clear();
        p[0] = 0x02; // RGB at 8 bits per colour
        p[6] = 0x01; // sRGB colour space and EOTF
        return 3 + InterfaceFeaturesPayload;
    }

    private static void WriteChromaticity(Span<byte> d, (double X, double Y) c)
    {
        var x = (int)Math.Round(c.X * 4096);
        var y = (int)Math.Round(c.Y * 4096);
        d[0] = (byte)x;
        d[1] = (byte)(((x >> 8) & 0x0F) | ((y & 0x0F) << 4));
        d[2] = (byte)(y >> 4);
    }
}
