namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// One video timing as EDID and DisplayID describe it: active, blanking, porch and sync lengths
/// (pixels horizontally, lines vertically) and the pixel clock. Back porches are what is left of
/// the blanking after front porch and sync.
/// </summary>
public readonly record struct DisplayTiming(
    long PixelClockKHz,
    int HActive,
    int HBlank,
    int HFrontPorch,
    int HSync,
    int VActive,
    int VBlank,
    int VFrontPorch,
    int VSync,
    bool HSyncPositive,
    bool VSyncPositive)
{
    /// <summary>CVT reduced blanking (v1): fixed horizontal blanking of 160 pixels...</summary>
    public const int RbHBlank = 160;

    /// <summary>...of which 48 are front porch and 32 are sync (80 back porch).</summary>
    public const int RbHFrontPorch = 48;

    public const int RbHSync = 32;

    /// <summary>Vertical front porch in lines.</summary>
    public const int RbVFrontPorch = 3;

    /// <summary>Smallest vertical back porch in lines.</summary>
    public const int RbMinVBackPorch = 6;

    /// <summary>Smallest vertical blanking time in microseconds.</summary>
    public const double RbMinVBlankMicroseconds = 460;

    /// <summary>Slowest pixel clock generated: sinks and EDID checkers treat slower DTDs as invalid data.</summary>
    public const long MinPixelClockKHz = 10_000;

    /// <summary>Most vertical blanking lines added to reach the minimum clock (the DTD field is 12 bits).</summary>
    private const int MaxPaddedBlank = 4095;

    public int HTotal => HActive + HBlank;

    public int VTotal => VActive + VBlank;

    /// <summary>Frames per second: pixel clock / (total pixels per line × total lines).</summary>
    public double RefreshHz => PixelClockKHz * 1000.0 / ((double)HTotal * VTotal);

    /// <summary>Duration of the vertical blanking interval in microseconds.</summary>
    public double VBlankMicroseconds => VBlank * HTotal * 1000.0 / PixelClockKHz;

    /// <summary>
    /// A CVT reduced-blanking (v1) style timing for <paramref name="width"/> × <paramref name="height"/>
    /// at <paramref name="refreshHz"/>, without CVT's 8-pixel cell rounding so odd sizes stay exact.
    /// </summary>
    /// <remarks>
    /// <code>
    /// HBlank = 160, HFrontPorch = 48, HSync = 32 (+hsync);  VFrontPorch = 3, VSync by aspect (-vsync)
    /// hPeriodEst  = (1e6 / refresh − 460 µs) / VActive
    /// VBlank      = max(floor(460 / hPeriodEst) + 1, 3 + VSync + 6)
    /// pixel clock = step × floor(HTotal × VTotal × refresh / step)     (step: 10 kHz EDID, 1 kHz DisplayID)
    /// </code>
    /// VSync is 4 lines for 4:3, 5 for 16:9, 6 for 16:10, 7 for 5:4 and 15:9, 10 otherwise. Small or
    /// slow modes (e.g. 320 × 200 at 60 Hz) would fall under a 10 MHz pixel clock, which sinks and
    /// EDID checkers take for garbage; those get a longer vertical back porch (up to 4095 lines of
    /// blanking), then a longer horizontal back porch, until HTotal × VTotal × refresh ≥ 10 MHz.
    /// Rounding the clock down lengthens each line, so the blanking still lasts at least 460 µs; the
    /// refresh comes out at most one clock step (≤ 0.1 % of a ≥ 10 MHz clock) below the request.
    /// </remarks>
    public static DisplayTiming ReducedBlanking(int width, int height, int refreshHz, int clockStepKHz)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(refreshHz, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(clockStepKHz, 1);
        var vSync = VSyncForAspect(width, height);
        var framePeriodUs = 1_000_000.0 / refreshHz;
        var hPeriodEstimateUs = (framePeriodUs - RbMinVBlankMicroseconds) / height;
        var vBlank = hPeriodEstimateUs > 0
            ? Math.Max((int)Math.Min(RbMinVBlankMicroseconds / hPeriodEstimateUs, int.MaxValue / 2) + 1, RbVFrontPorch + vSync + RbMinVBackPorch)
            : throw new ArgumentOutOfRangeException(nameof(refreshHz), refreshHz, "the frame is shorter than the minimum vertical blanking");
        var (hBlank, vBlankPadded) = PadToMinimumClock(width, height, RbHBlank, vBlank, refreshHz);
        var clockHz = ((long)width + hBlank) * ((long)height + vBlankPadded) * refreshHz;
        var stepHz = clockStepKHz * 1000L;
        var clockKHz = Math.Max(clockHz / stepHz, 1) * clockStepKHz;
        return new DisplayTiming(clockKHz, width, hBlank, RbHFrontPorch, RbHSync,
            height, vBlankPadded, RbVFrontPorch, vSync, HSyncPositive: true, VSyncPositive: false);
    }

    /// <summary>Grows the blanking (vertical first) until the pixel clock reaches <see cref="MinPixelClockKHz"/>.</summary>
    private static (int HBlank, int VBlank) PadToMinimumClock(int width, int height, int hBlank, int vBlank, int refreshHz)
    {
        var minPixelsPerFrame = ((MinPixelClockKHz * 1000L) + refreshHz - 1) / refreshHz;
        long hTotal = width + hBlank, vTotal = height + vBlank;
        if (hTotal * vTotal >= minPixelsPerFrame)
            return (hBlank, vBlank);
        vTotal = Math.Max(vTotal, Math.Min(CeilDiv(minPixelsPerFrame, hTotal), (long)height + MaxPaddedBlank));
        if (hTotal * vTotal < minPixelsPerFrame)
            hTotal = CeilDiv(minPixelsPerFrame, vTotal);
        return ((int)(hTotal - width), (int)(vTotal - height));
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    /// <summary>CVT's vertical sync width, which also tells a sink the aspect ratio.</summary>
    internal static int VSyncForAspect(int width, int height) => AspectOf(width, height) switch
    {
        (4, 3) => 4,
        (16, 9) => 5,
        (16, 10) => 6,
        (5, 4) or (15, 9) => 7,
        _ => 10,
    };

    /// <summary>The common ratio <paramref name="height"/> lies within one line of, or (0, 0).</summary>
    internal static (int H, int V) AspectOf(int width, int height)
    {
        ReadOnlySpan<(int H, int V)> ratios = [(4, 3), (16, 9), (16, 10), (5, 4), (15, 9)];
        foreach (var (h, v) in ratios)
        {
            if (Math.Abs(((long)width * v) - ((long)height * h)) < h)
                return (h, v);
        }
        return (0, 0);
    }
}
