using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Tests.Devices.Display;

public sealed class EdidRoundTripTests
{
    public static TheoryData<int, int, double, int> Modes => new()
    {
        { 1280, 720, 96, 60 },
        { 2560, 1440, 192, 60 },
        { 800, 600, 96, 60 },
        { 1366, 768, 120, 60 },
        { 1920, 1080, 96, 60 },
        { 3840, 2160, 96, 60 },
        { 7680, 4320, 96, 60 },
        { 1281, 721, 96, 60 },
        { 320, 200, 96, 60 },
        { 2560, 1600, 220, 165 },
        { 3840, 2160, 163, 144 }, // fits 4095 but not 655.35 MHz
        { 7680, 4320, 280, 360 },
        { 320, 200, 24, 1 },
        { 4096, 2160, 96, 24 }, // one pixel too wide for a DTD
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void PreferredModeSizeAndNameSurviveTheRoundTrip(int width, int height, double dpi, int refresh)
    {
        var p = new DisplayProperties(width, height, dpi, refresh);

        var edid = EdidGenerator.Generate(p);
        var info = EdidParser.Parse(edid);

        Assert.True(EdidParser.HasValidHeader(edid));
        Assert.All(Blocks(edid), block => Assert.Equal(0, SumMod256(block)));
        Assert.True(info.ChecksumsValid);
        Assert.Equal("VDI", info.ManufacturerId);
        Assert.Equal(((byte)1, (byte)4), info.EdidVersion);
        Assert.Equal("Vdi Display", info.MonitorName);

        Assert.Equal(width, info.PreferredWidth);
        Assert.Equal(height, info.PreferredHeight);
        Assert.InRange(info.PreferredRefreshHz!.Value, refresh - 0.5, refresh + 0.5);

        Assert.InRange(info.WidthMm!.Value, (width / dpi * 25.4) - 1, (width / dpi * 25.4) + 1);
        Assert.InRange(info.HeightMm!.Value, (height / dpi * 25.4) - 1, (height / dpi * 25.4) + 1);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void ModesBeyondADetailedTimingGetOneDisplayIdExtension(int width, int height, double dpi, int refresh)
    {
        var requested = DisplayTiming.ReducedBlanking(width, height, refresh, 10);
        var needsExtension = width > 4095 || height > 4095 || requested.PixelClockKHz > 655_350;

        var edid = EdidGenerator.Generate(new DisplayProperties(width, height, dpi, refresh));
        var info = EdidParser.Parse(edid);

        Assert.Equal(needsExtension ? 256 : 128, edid.Length);
        Assert.Equal(needsExtension ? 1 : 0, edid[126]);
        Assert.Equal(needsExtension, info.PreferredFromDisplayId);
        Assert.Equal(needsExtension ? true : null, info.DisplayIdChecksumValid);
        if (needsExtension)
        {
            Assert.Equal(0x70, edid[128]);
            var sectionLength = 5 + edid[130];
            Assert.Equal(0, SumMod256(edid.AsSpan(129, sectionLength)));
        }
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void BaseTimingFitsADescriptorKeepsTheAspectAndBlanksAtLeast460Microseconds(int width, int height, double dpi, int refresh)
    {
        var info = EdidParser.Parse(EdidGenerator.Generate(new DisplayProperties(width, height, dpi, refresh)));
        var baseTiming = info.BaseTiming!.Value;
        var preferred = info.PreferredTiming!.Value;

        Assert.InRange(baseTiming.HActive, 1, 4095);
        Assert.InRange(baseTiming.VActive, 1, 4095);
        Assert.InRange(baseTiming.PixelClockKHz, 10, 655_350);
        Assert.InRange(baseTiming.RefreshHz, refresh - 0.5, refresh + 0.5);
        Assert.InRange(baseTiming.VActive, (baseTiming.HActive * (double)height / width) - 1, (baseTiming.HActive * (double)height / width) + 1);
        foreach (var t in new[] { baseTiming, preferred })
        {
            Assert.Equal((48, 32, 3), (t.HFrontPorch, t.HSync, t.VFrontPorch));
            Assert.True(t.HBlank >= 160, $"horizontal blanking {t.HBlank}");
            Assert.True(t.PixelClockKHz >= 10_000, $"pixel clock {t.PixelClockKHz} kHz");
            Assert.True(t.VBlankMicroseconds >= 460, $"{t.VBlankMicroseconds} µs of vertical blanking");
            Assert.True(t.VBlank - t.VFrontPorch - t.VSync >= 6, "vertical back porch under 6 lines");
            Assert.True(t.HSyncPositive);
            Assert.False(t.VSyncPositive);
        }
    }

    [Fact]
    public void SlowSmallModesArePaddedToATenMegahertzClock()
    {
        // CVT-RB would give 480 x 215 x 60 = 6.2 MHz; the vertical back porch grows instead.
        var small = DisplayTiming.ReducedBlanking(320, 200, 60, 10);
        // At 1 Hz even 4095 blank lines are not enough, so the horizontal back porch grows too.
        var slow = DisplayTiming.ReducedBlanking(320, 200, 1, 10);

        Assert.Equal((160, 148, 10_020L), (small.HBlank, small.VBlank, small.PixelClockKHz));
        Assert.Equal((2009, 4095, 10_000L), (slow.HBlank, slow.VBlank, slow.PixelClockKHz));
    }

    [Fact]
    public void EightKKeepsTheExactAspectInTheBaseBlock()
    {
        var info = EdidParser.Parse(EdidGenerator.Generate(new DisplayProperties(7680, 4320)));

        Assert.Equal((4080, 2295), (info.BaseTiming!.Value.HActive, info.BaseTiming.Value.VActive));
        Assert.Equal((7680, 4320), (info.PreferredWidth, info.PreferredHeight));
    }

    [Fact]
    public void GivenPhysicalSizeIsEncoded()
    {
        var info = EdidParser.Parse(EdidGenerator.Generate(new DisplayProperties(1920, 1080) { WidthMm = 527, HeightMm = 296 }));

        Assert.Equal((527, 296), (info.WidthMm, info.HeightMm));
    }

    [Fact]
    public void PhysicalSizeOverTheFieldLimitIsScaledKeepingTheAspect()
    {
        var edid = EdidGenerator.Generate(new DisplayProperties(1920, 1080) { WidthMm = 8000, HeightMm = 4500 });
        var info = EdidParser.Parse(edid);

        Assert.Equal((4095, 2303), (info.WidthMm, info.HeightMm));
        Assert.Equal((255, 143), (edid[21], edid[22]));
    }

    [Fact]
    public void SameRequestGivesTheSameBytes() =>
        Assert.Equal(EdidGenerator.Generate(new DisplayProperties(2560, 1440, 144)), EdidGenerator.Generate(new DisplayProperties(2560, 1440, 144)));

    [Theory]
    [InlineData(100, 720)]
    [InlineData(1280, 720, double.NaN)]
    [InlineData(70000, 720)]
    public void InvalidPropertiesAreRefused(int width, int height, double dpi = 96) =>
        Assert.Throws<ArgumentException>(() => EdidGenerator.Generate(new DisplayProperties(width, height, dpi)));

    [Fact]
    public void WiderThanTheDefaultLimitsStillEncodesForDevicesThatAllowIt()
    {
        var info = EdidParser.Parse(EdidGenerator.Generate(new DisplayProperties(10240, 4320, 96, 30)));

        Assert.Equal((10240, 4320), (info.PreferredWidth, info.PreferredHeight));
    }

    private static IEnumerable<byte[]> Blocks(byte[] edid) => edid.Chunk(128);

    private static int SumMod256(ReadOnlySpan<byte> bytes)
    {
        var sum = 0;
        foreach (var b in bytes)
            sum += b;
        return sum % 256;
    }
}
