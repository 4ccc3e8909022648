using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public class EffectiveDpiTests
{
    [Fact]
    public void Reported_dpi_wins()
    {
        var display = new ClientDisplay(2560, 1440, 2, Dpi: 163, WidthMm: 597, HeightMm: 336);
        Assert.Equal(163, display.EffectiveDpi());
    }

    [Fact]
    public void Physical_width_gives_pixels_per_inch()
    {
        // 1920 pixels across 508 mm (20 inches) = 96 dpi.
        var display = new ClientDisplay(1920, 1080, 1, WidthMm: 508, HeightMm: 285.75);
        Assert.Equal(96, display.EffectiveDpi(), precision: 10);

        var retina = new ClientDisplay(2880, 1800, 2, WidthMm: 330.2, HeightMm: 206.4);
        Assert.Equal(221.5384615, retina.EffectiveDpi(), precision: 6);
    }

    [Theory]
    [InlineData(1.0, 96.0)]
    [InlineData(1.25, 120.0)]
    [InlineData(2.0, 192.0)]
    [InlineData(0.5, 48.0)]
    public void Without_dpi_or_size_the_css_density_is_scaled_by_the_device_pixel_ratio(double ratio, double expected)
    {
        Assert.Equal(expected, new ClientDisplay(1280, 720, ratio).EffectiveDpi());
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(0.0)]
    [InlineData(-10.0)]
    [InlineData(double.PositiveInfinity)]
    public void Unusable_dpi_or_size_falls_through_to_the_next_source(double bad)
    {
        Assert.Equal(96, new ClientDisplay(1920, 1080, 1, Dpi: bad, WidthMm: 508, HeightMm: 286).EffectiveDpi(), precision: 10);
        Assert.Equal(144, new ClientDisplay(1920, 1080, 1.5, Dpi: bad, WidthMm: bad, HeightMm: bad).EffectiveDpi());
    }
}
