using System.Buffers.Binary;
using System.Text;

namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// Builds the EDID the guest reads for a <see cref="DisplayProperties"/>: a 128-byte EDID 1.4 base
/// block, plus one DisplayID 2.0 extension block when the mode does not fit a detailed timing
/// descriptor (wider or taller than 4095, or a pixel clock over 655.35 MHz, e.g. 7680 × 4320 @ 60).
/// </summary>
/// <remarks>
/// Base block layout (offsets in decimal):
/// <code>
/// 0-7     header 00 FF FF FF FF FF FF 00
/// 8-9     manufacturer "VDI", three 5-bit letters (A = 1), big-endian
/// 10-11   product code (LE)          12-15  serial number (LE)
/// 16      week 0 (unspecified)       17     year − 1990
/// 18-19   EDID version 1, revision 4
/// 20      0xA0: digital input, 8 bits per colour, interface not defined
/// 21-22   screen width, height in cm (rounded, 1..255, aspect kept when clamped)
/// 23      gamma 2.2 stored as 120 (gamma × 100 − 100)
/// 24      0x06: sRGB default colour space, preferred timing is the native format and rate; RGB 4:4:4
/// 25-34   sRGB chromaticity (10-bit x, y of red, green, blue, white)
/// 35-37   no established timings     38-53  standard timings unused (01 01 ×8)
/// 54-71   descriptor 1: detailed timing of the requested mode, or of the largest mode of the same
///         aspect that fits when the DisplayID extension carries the requested one
/// 72-89   descriptor 2: display range limits (0xFD), "range limits only"
/// 90-107  descriptor 3: monitor name (0xFC) "Vdi Display"
/// 108-125 descriptor 4: dummy (0x10)
/// 126     extension count (0 or 1)   127    checksum (all 128 bytes sum to 0 mod 256)
/// </code>
/// Timings are CVT reduced-blanking style (<see cref="DisplayTiming.ReducedBlanking"/>). The image
/// size in the detailed timing is the display's physical size in mm (4095 at most, aspect kept).
/// The extension layout is described on <see cref="DisplayIdExtension"/>.
/// </remarks>
public static class EdidGenerator
{
    public const string ManufacturerId = "VDI";
    public const ushort ProductCode = 0x0001;
    public const uint SerialNumber = 1;
    public const string MonitorName = "Vdi Display";
    public const int ModelYear = 2025;

    private const byte DigitalInput8Bpc = 0xA0;
    private const byte Gamma22 = 120;
    private const byte FeatureSrgb = 0x04, FeaturePreferredIsNative = 0x02;
    private const int MaxScreenCm = 255;
    private const int MaxExactAspectLoss = 64;

    /// <summary>Generates the EDID; its length is 128, or 256 with the DisplayID extension.</summary>
    /// <exception cref="ArgumentException">The properties are invalid, or too large for any EDID timing.</exception>
    public static byte[] Generate(DisplayProperties p)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (DisplayProperties.Validate(p, DisplayIdExtension.MaxActive, DisplayIdExtension.MaxActive) is { } error)
            throw new ArgumentException(error, nameof(p));

        var baseTiming = DisplayTiming.ReducedBlanking(p.Width, p.Height, p.RefreshHz, clockStepKHz: 10);
        DisplayTiming? extended = null;
        if (!DetailedTimingDescriptor.Fits(baseTiming))
        {
            extended = DisplayTiming.ReducedBlanking(p.Width, p.Height, p.RefreshHz, clockStepKHz: 1);
            if (!DisplayIdExtension.Fits(extended.Value))
                throw new ArgumentException($"{p.Width}x{p.Height} at {p.RefreshHz} Hz needs a pixel clock above the DisplayID limit of {DisplayIdExtension.MaxPixelClockKHz / 1000} MHz.", nameof(p));
            baseTiming = LargestFittingMode(p.Width, p.Height, p.RefreshHz);
        }
        else if (!MillimetresKeepDpi(p) && DisplayTiming.ReducedBlanking(p.Width, p.Height, p.RefreshHz, clockStepKHz: 1) is var exact && DisplayIdExtension.Fits(exact))
        {
            // Whole millimetres cannot carry this DPI (800 px at 288 dpi is 70.56 mm: 71 mm reads as 286 dpi), so the
            // DisplayID extension carries the size in 0.1 mm, which the guest prefers.
            extended = exact;
        }

        var edid = new byte[Edid.BlockSize * (extended is null ? 1 : 2)];
        WriteBaseBlock(edid.AsSpan(0, Edid.BlockSize), p, baseTiming, extended);
        if (extended is { } t)
            DisplayIdExtension.Write(edid.AsSpan(Edid.BlockSize), t, TenthsOfMm(p.WidthMm, p.Width, p.Dpi), TenthsOfMm(p.HeightMm, p.Height, p.Dpi));
        return edid;
    }

    /// <summary>
    /// True when the base block's whole millimetres give back the DPI the client asked for, as a guest computes it
    /// (round(width px × 25.4 / width mm)); a size the client gave in millimetres is kept as given.
    /// </summary>
    internal static bool MillimetresKeepDpi(DisplayProperties p)
    {
        if (p.WidthMm is not null)
            return true;
        var mm = (long)p.EffectiveWidthMm;
        if (mm <= 0 || mm > DetailedTimingDescriptor.MaxImageMm)
            return false;
        return ((p.Width * 254L) + (mm * 5)) / (mm * 10) == (long)Math.Round(p.Dpi, MidpointRounding.AwayFromZero);
    }

    /// <summary>The physical size in 0.1 mm: the client's millimetres when given, else the pixels at the requested DPI.</summary>
    private static long TenthsOfMm(int? mm, int pixels, double dpi) =>
        mm is { } given ? given * 10L : (long)Math.Round(pixels / dpi * 254, MidpointRounding.AwayFromZero);

    /// <summary>
    /// The largest mode of the requested aspect whose timing fits a detailed timing descriptor at
    /// the requested refresh. An exact multiple of the reduced aspect ratio is preferred when one is
    /// within 64 pixels of the widest fit (7680 × 4320 gives 4080 × 2295).
    /// </summary>
    internal static DisplayTiming LargestFittingMode(int width, int height, int refreshHz)
    {
        DisplayTiming? FitAt(int w)
        {
            var h = (int)Math.Round((double)w * height / width, MidpointRounding.AwayFromZero);
            if (h is < 1 or > DetailedTimingDescriptor.MaxActive)
                return null;
            var t = DisplayTiming.ReducedBlanking(w, h, refreshHz, clockStepKHz: 10);
            return DetailedTimingDescriptor.Fits(t) ? t : null;
        }

        DisplayTiming? widest = null;
        for (var w = Math.Min(width, DetailedTimingDescriptor.MaxActive); w >= 1 && widest is null; w--)
            widest = FitAt(w);
        if (widest is not { } best)
            throw new ArgumentException($"no {width}x{height} aspect mode at {refreshHz} Hz fits an EDID detailed timing");

        var aspectStep = width / GreatestCommonDivisor(width, height);
        if (aspectStep <= MaxExactAspectLoss)
        {
            for (var w = best.HActive / aspectStep * aspectStep; w > 0 && w >= best.HActive - MaxExactAspectLoss; w -= aspectStep)
            {
                if (FitAt(w) is { } exact)
                    return exact;
            }
        }
        return best;
    }

    private static int GreatestCommonDivisor(int a, int b)
    {
        while (b != 0)
            (a, b) = (b, a % b);
        return a;
    }

    private static void WriteBaseBlock(Span<byte> b, DisplayProperties p, in DisplayTiming timing, DisplayTiming? extended)
    {
        Edid.Header.CopyTo(b);
        BinaryPrimitives.WriteUInt16BigEndian(b[Edid.ManufacturerOffset..], Edid.PackManufacturer(ManufacturerId));
        BinaryPrimitives.WriteUInt16LittleEndian(b[Edid.ProductCodeOffset..], ProductCode);
        BinaryPrimitives.WriteUInt32LittleEndian(b[Edid.SerialOffset..], SerialNumber);
        b[16] = 0;
        b[17] = ModelYear - 1990;
        b[Edid.VersionOffset] = 1;
        b[Edid.VersionOffset + 1] = 4;
        b[20] = DigitalInput8Bpc;
        var (widthMm, heightMm) = (p.EffectiveWidthMm, p.EffectiveHeightMm);
        var (widthCm, heightCm) = ClampKeepingAspect(widthMm / 10.0, heightMm / 10.0, MaxScreenCm);
        b[Edid.ScreenSizeCmOffset] = (byte)widthCm;
        b[Edid.ScreenSizeCmOffset + 1] = (byte)heightCm;
        b[23] = Gamma22;
        b[24] = FeatureSrgb | FeaturePreferredIsNative;
        WriteSrgbChromaticity(b[25..35]);
        b[35..38].Clear();
        for (var i = 38; i < 54; i++)
            b[i] = 0x01;

        var (imageW, imageH) = ClampKeepingAspect(widthMm, heightMm, DetailedTimingDescriptor.MaxImageMm);
        DetailedTimingDescriptor.Write(b[Edid.DescriptorOffset(0)..], timing, imageW, imageH);
        WriteRangeLimits(b.Slice(Edid.DescriptorOffset(1), DetailedTimingDescriptor.Size), timing, extended ?? timing);
        WriteText(b.Slice(Edid.DescriptorOffset(2), DetailedTimingDescriptor.Size), Edid.MonitorNameTag, MonitorName);
        WriteDisplayDescriptorHeader(b.Slice(Edid.DescriptorOffset(3), DetailedTimingDescriptor.Size), Edid.DummyTag);

        b[Edid.ExtensionCountOffset] = (byte)(extended is null ? 0 : 1);
        b[^1] = Edid.ChecksumFor(b[..^1]);
    }

    /// <summary>Red, green, blue and white (D65) of sRGB as 10-bit binary fractions.</summary>
    private static void WriteSrgbChromaticity(Span<byte> c)
    {
        ReadOnlySpan<double> xy = [0.640, 0.330, 0.300, 0.600, 0.150, 0.060, 0.3127, 0.3290];
        Span<int> v = stackalloc int[xy.Length];
        for (var i = 0; i < xy.Length; i++)
            v[i] = (int)Math.Round(xy[i] * 1024, MidpointRounding.AwayFromZero);
        c[0] = (byte)(((v[0] & 3) << 6) | ((v[1] & 3) << 4) | ((v[2] & 3) << 2) | (v[3] & 3));
        c[1] = (byte)(((v[4] & 3) << 6) | ((v[5] & 3) << 4) | ((v[6] & 3) << 2) | (v[7] & 3));
        for (var i = 0; i < xy.Length; i++)
            c[2 + i] = (byte)(v[i] >> 2);
    }

    /// <summary>
    /// Ranges covering both timings in the EDID, clamped to what the descriptor can hold (1..510 Hz,
    /// 1..510 kHz, 10..2550 MHz): values over 255 use the +255 offset flags of byte 4.
    /// </summary>
    private static void WriteRangeLimits(Span<byte> d, in DisplayTiming a, in DisplayTiming b)
    {
        WriteDisplayDescriptorHeader(d, Edid.RangeLimitsTag);
        var minV = Math.Clamp((int)Math.Floor(Math.Min(a.RefreshHz, b.RefreshHz)), 1, 510);
        var maxV = Math.Clamp((int)Math.Ceiling(Math.Max(a.RefreshHz, b.RefreshHz)), minV, 510);
        var minH = Math.Clamp((int)Math.Floor(Math.Min(LineRateKHz(a), LineRateKHz(b))), 1, 510);
        var maxH = Math.Clamp((int)Math.Ceiling(Math.Max(LineRateKHz(a), LineRateKHz(b))), minH, 510);
        var flags = (maxV > 255 ? 0x02 : 0) | (minV > 255 ? 0x01 : 0) | (maxH > 255 ? 0x08 : 0) | (minH > 255 ? 0x04 : 0);
        d[4] = (byte)flags;
        d[5] = (byte)(minV > 255 ? minV - 255 : minV);
        d[6] = (byte)(maxV > 255 ? maxV - 255 : maxV);
        d[7] = (byte)(minH > 255 ? minH - 255 : minH);
        d[8] = (byte)(maxH > 255 ? maxH - 255 : maxH);
        d[9] = (byte)Math.Clamp((Math.Max(a.PixelClockKHz, b.PixelClockKHz) + 9_999) / 10_000, 1, 255);
        d[10] = 0x01; // range limits only: no GTF or CVT formula
        d[11] = 0x0A;
        d[12..].Fill(0x20);
    }

    private static double LineRateKHz(in DisplayTiming t) => (double)t.PixelClockKHz / t.HTotal;

    /// <summary>Up to 13 ASCII characters, then a line feed and space padding.</summary>
    private static void WriteText(Span<byte> d, byte tag, string text)
    {
        WriteDisplayDescriptorHeader(d, tag);
        var field = d[5..];
        field.Fill(0x20);
        var written = Encoding.ASCII.GetBytes(text.AsSpan(0, Math.Min(text.Length, field.Length)), field);
        if (written < field.Length)
            field[written] = 0x0A;
    }

    private static void WriteDisplayDescriptorHeader(Span<byte> d, byte tag)
    {
        d.Clear();
        d[3] = tag;
    }

    /// <summary>Rounds both sizes, scaling them down together when either exceeds <paramref name="max"/>.</summary>
    private static (int W, int H) ClampKeepingAspect(double w, double h, int max)
    {
        var scale = Math.Max(w, h) > max ? max / Math.Max(w, h) : 1;
        return (Math.Clamp((int)Math.Round(w * scale, MidpointRounding.AwayFromZero), 1, max),
                Math.Clamp((int)Math.Round(h * scale, MidpointRounding.AwayFromZero), 1, max));
    }
}
