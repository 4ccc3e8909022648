using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Tests.Devices.Display;

public sealed class DisplayPropertiesTests
{
    [Theory]
    [InlineData(1280, 720, 96.0, 60)]
    [InlineData(1281, 721, 96.0, 60)] // odd sizes are allowed
    [InlineData(320, 200, 24.0, 1)] // every minimum
    [InlineData(7680, 4320, 1200.0, 360)] // every maximum
    public void ValidPropertiesHaveNoError(int width, int height, double dpi, int refresh) =>
        Assert.Null(DisplayProperties.Validate(new DisplayProperties(width, height, dpi, refresh)));

    [Theory]
    [InlineData(0, 720, 96.0, 60, "Width")]
    [InlineData(-1, 720, 96.0, 60, "Width")]
    [InlineData(319, 720, 96.0, 60, "Width")]
    [InlineData(7681, 720, 96.0, 60, "Width")]
    [InlineData(1280, 100000, 96.0, 60, "Height")]
    [InlineData(1280, 0, 96.0, 60, "Height")]
    [InlineData(1280, 720, double.NaN, 60, "Dpi")]
    [InlineData(1280, 720, double.PositiveInfinity, 60, "Dpi")]
    [InlineData(1280, 720, 23.9, 60, "Dpi")]
    [InlineData(1280, 720, 1201.0, 60, "Dpi")]
    [InlineData(1280, 720, 96.0, 0, "RefreshHz")]
    [InlineData(1280, 720, 96.0, 361, "RefreshHz")]
    public void InvalidFieldIsNamedWithTheReason(int width, int height, double dpi, int refresh, string field)
    {
        var error = DisplayProperties.Validate(new DisplayProperties(width, height, dpi, refresh));

        Assert.NotNull(error);
        Assert.StartsWith(field + " must be", error, StringComparison.Ordinal);
    }

    [Fact]
    public void MessagesSayWhyAndQuoteTheValue()
    {
        Assert.Equal("Dpi must be a finite number between 24 and 1200 (was NaN).",
            DisplayProperties.Validate(new DisplayProperties(1280, 720, double.NaN)));
        Assert.Equal("Width must be between 320 and 7680 pixels (was -5).",
            DisplayProperties.Validate(new DisplayProperties(-5, 720)));
        Assert.Equal("Height must be between 200 and 4320 pixels (was 100000).",
            DisplayProperties.Validate(new DisplayProperties(1280, 100000)));
        Assert.Equal("RefreshHz must be between 1 and 360 Hz (was 0).",
            DisplayProperties.Validate(new DisplayProperties(1280, 720, RefreshHz: 0)));
    }

    [Theory]
    [InlineData(0, 300)]
    [InlineData(-10, 300)]
    [InlineData(10001, 300)]
    public void BadPhysicalWidthIsRefused(int widthMm, int heightMm) =>
        Assert.StartsWith("WidthMm must be positive", DisplayProperties.Validate(new DisplayProperties(1280, 720) { WidthMm = widthMm, HeightMm = heightMm }), StringComparison.Ordinal);

    [Fact]
    public void BadPhysicalHeightIsRefused() =>
        Assert.StartsWith("HeightMm must be positive", DisplayProperties.Validate(new DisplayProperties(1280, 720) { HeightMm = 0 }), StringComparison.Ordinal);

    [Fact]
    public void DeviceLimitsReplaceTheDefaults()
    {
        var uhd = new DisplayProperties(3840, 2160);

        Assert.Equal("Width must be between 320 and 1920 pixels (was 3840).", DisplayProperties.Validate(uhd, 1920, 1080));
        Assert.StartsWith("Height", DisplayProperties.Validate(uhd, new DisplayLimits(MaxHeight: 1440)), StringComparison.Ordinal);
        Assert.Null(DisplayProperties.Validate(uhd, DisplayLimits.Default));
    }

    [Theory]
    [InlineData(1920, 1080, 96.0, 508, 286)] // 285.75 rounds up
    [InlineData(2560, 1440, 192.0, 339, 191)]
    [InlineData(1366, 768, 120.0, 289, 163)]
    public void PhysicalSizeIsDerivedFromDpi(int width, int height, double dpi, int widthMm, int heightMm)
    {
        var p = new DisplayProperties(width, height, dpi);

        Assert.Equal(widthMm, p.EffectiveWidthMm);
        Assert.Equal(heightMm, p.EffectiveHeightMm);
    }

    [Fact]
    public void GivenPhysicalSizeWinsOverDpi()
    {
        var p = new DisplayProperties(1920, 1080, 96) { WidthMm = 600, HeightMm = 340 };

        Assert.Equal((600, 340), (p.EffectiveWidthMm, p.EffectiveHeightMm));
    }
}
