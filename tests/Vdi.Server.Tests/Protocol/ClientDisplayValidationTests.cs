using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public class ClientDisplayValidationTests
{
    private static readonly ClientDisplay s_valid = new(1920, 1080, 1.0, Dpi: 96, WidthMm: 509, HeightMm: 286, RefreshHz: 60);

    private static ValidationError Single(ClientDisplay? display, int maxWidth = DisplayLimits.MaxWidth, int maxHeight = DisplayLimits.MaxHeight) =>
        Assert.Single(ClientDisplay.Validate(display, maxWidth, maxHeight));

    [Fact]
    public void Valid_display_has_no_errors()
    {
        Assert.Empty(ClientDisplay.Validate(s_valid));
        Assert.Empty(ClientDisplay.Validate(new ClientDisplay(320, 200, 10)));
        Assert.Empty(ClientDisplay.Validate(new ClientDisplay(7680, 4320, 0.25)));
    }

    [Fact]
    public void Null_display_is_reported_as_missing()
    {
        Assert.Equal(new ValidationError("display", "display is required"), Single(null));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(319)]
    [InlineData(7681)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void Width_out_of_range_is_rejected(int width)
    {
        var error = Single(s_valid with { Width = width });
        Assert.Equal("display.width", error.Field);
        Assert.Equal($"display.width must be a whole number of device pixels from 320 to 7680 (was {width})", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(199)]
    [InlineData(4321)]
    public void Height_out_of_range_is_rejected(int height)
    {
        var error = Single(s_valid with { Height = height });
        Assert.Equal(new ValidationError("display.height",
            $"display.height must be a whole number of device pixels from 200 to 4320 (was {height})"), error);
    }

    [Fact]
    public void Desktop_maximum_replaces_the_default_in_range_and_message()
    {
        var errors = ClientDisplay.Validate(s_valid with { Width = 2560, Height = 1440 }, maxWidth: 1920, maxHeight: 1200);
        Assert.Equal(
            [
                new ValidationError("display.width", "display.width must be a whole number of device pixels from 320 to 1920 (was 2560)"),
                new ValidationError("display.height", "display.height must be a whole number of device pixels from 200 to 1200 (was 1440)"),
            ],
            errors);
        Assert.Empty(ClientDisplay.Validate(s_valid with { Width = 1920, Height = 1200 }, maxWidth: 1920, maxHeight: 1200));
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    [InlineData(0.0, "0")]
    [InlineData(-1.0, "-1")]
    [InlineData(10.01, "10.01")]
    [InlineData(1e300, "1E+300")]
    public void Device_pixel_ratio_must_be_finite_and_in_range(double ratio, string shown)
    {
        var error = Single(s_valid with { DevicePixelRatio = ratio });
        Assert.Equal(new ValidationError("display.devicePixelRatio",
            $"display.devicePixelRatio must be a finite number greater than 0 and at most 10 (was {shown})"), error);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(0.0, "0")]
    [InlineData(-96.0, "-96")]
    [InlineData(23.9, "23.9")]
    [InlineData(1200.5, "1200.5")]
    public void Dpi_must_be_finite_and_in_range_when_given(double dpi, string shown)
    {
        var error = Single(s_valid with { Dpi = dpi });
        Assert.Equal(new ValidationError("display.dpi",
            $"display.dpi must be a finite number from 24 to 1200 when given (was {shown})"), error);
    }

    [Theory]
    [InlineData(24.0)]
    [InlineData(1200.0)]
    public void Dpi_limits_are_inclusive(double dpi) => Assert.Empty(ClientDisplay.Validate(s_valid with { Dpi = dpi }));

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    [InlineData(0.0, "0")]
    [InlineData(-300.0, "-300")]
    [InlineData(10000.5, "10000.5")]
    public void Physical_size_must_be_finite_positive_and_at_most_10_m(double mm, string shown)
    {
        Assert.Equal(new ValidationError("display.widthMm",
            $"display.widthMm must be a finite number greater than 0 and at most 10000 mm when given (was {shown})"),
            Single(s_valid with { WidthMm = mm }));
        Assert.Equal(new ValidationError("display.heightMm",
            $"display.heightMm must be a finite number greater than 0 and at most 10000 mm when given (was {shown})"),
            Single(s_valid with { HeightMm = mm }));
    }

    [Fact]
    public void Physical_size_needs_both_dimensions()
    {
        Assert.Equal(new ValidationError("display.heightMm", "display.heightMm must be given together with display.widthMm"),
            Single(s_valid with { HeightMm = null }));
        Assert.Equal(new ValidationError("display.widthMm", "display.widthMm must be given together with display.heightMm"),
            Single(s_valid with { WidthMm = null }));
        Assert.Empty(ClientDisplay.Validate(s_valid with { WidthMm = null, HeightMm = null }));
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(0.0, "0")]
    [InlineData(-60.0, "-60")]
    [InlineData(0.5, "0.5")]
    [InlineData(361.0, "361")]
    public void Refresh_rate_must_be_finite_and_in_range_when_given(double hz, string shown)
    {
        var error = Single(s_valid with { RefreshHz = hz });
        Assert.Equal(new ValidationError("display.refreshHz",
            $"display.refreshHz must be a finite number from 1 to 360 when given (was {shown})"), error);
    }

    [Fact]
    public void Optional_fields_may_be_absent()
    {
        Assert.Empty(ClientDisplay.Validate(new ClientDisplay(1280, 720, 1.5)));
    }

    [Fact]
    public void Every_bad_field_is_reported_in_field_order()
    {
        var errors = ClientDisplay.Validate(new ClientDisplay(0, 0, double.NaN, Dpi: 0, WidthMm: -1, RefreshHz: 0));
        Assert.Equal(
            ["display.width", "display.height", "display.devicePixelRatio", "display.dpi", "display.widthMm", "display.heightMm", "display.refreshHz"],
            errors.Select(e => e.Field));
    }
}
