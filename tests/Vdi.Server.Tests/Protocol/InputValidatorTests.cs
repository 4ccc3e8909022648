using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public class InputValidatorTests
{
    [Fact]
    public void Known_key_gives_its_evdev_code()
    {
        Assert.True(InputValidator.TryValidateKey(new KeyEvent("KeyA", "a", true), out var evdev));
        Assert.Equal(30, evdev);
        Assert.True(InputValidator.TryValidateKey(new KeyEvent("ShiftLeft", "Shift", false), out evdev));
        Assert.Equal(42, evdev);
    }

    [Fact]
    public void Unknown_or_malformed_keys_are_dropped()
    {
        Assert.False(InputValidator.TryValidateKey(null, out _));
        Assert.False(InputValidator.TryValidateKey(new KeyEvent("Hyper", "Hyper", true), out _));
        Assert.False(InputValidator.TryValidateKey(new KeyEvent(null!, "a", true), out _));
        Assert.False(InputValidator.TryValidateKey(new KeyEvent("KeyA", null!, true), out _));
        Assert.False(InputValidator.TryValidateKey(new KeyEvent("KeyA", new string('a', 65), true), out _));
        Assert.True(InputValidator.TryValidateKey(new KeyEvent("KeyA", new string('a', 64), true), out _));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1919.75, 1079.5)]
    [InlineData(960.5, 540.25)]
    public void Pointer_on_screen_is_accepted(double x, double y)
    {
        Assert.True(InputValidator.IsValidPointer(new PointerEvent(x, y, 1), 1920, 1080));
    }

    [Theory]
    [InlineData(double.NaN, 10)]
    [InlineData(10, double.NaN)]
    [InlineData(double.PositiveInfinity, 10)]
    [InlineData(10, double.NegativeInfinity)]
    [InlineData(-0.5, 10)]
    [InlineData(10, -1)]
    [InlineData(1920, 10)]
    [InlineData(10, 1080)]
    [InlineData(1e12, 1e12)]
    public void Pointer_off_screen_or_not_finite_is_dropped(double x, double y)
    {
        Assert.False(InputValidator.IsValidPointer(new PointerEvent(x, y, 0), 1920, 1080));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(31, true)]
    [InlineData(32, false)]
    [InlineData(-1, false)]
    public void Buttons_must_be_the_five_dom_buttons(int buttons, bool valid)
    {
        Assert.Equal(valid, InputValidator.IsValidPointer(new PointerEvent(5, 5, buttons), 640, 480));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(-120, true)]
    [InlineData(10_000, true)]
    [InlineData(10_001, false)]
    [InlineData(double.NaN, false)]
    [InlineData(double.NegativeInfinity, false)]
    public void Wheel_delta_must_be_finite_and_sane(double delta, bool valid)
    {
        Assert.Equal(valid, InputValidator.IsValidPointer(new PointerEvent(5, 5, 0, delta), 640, 480));
    }

    [Fact]
    public void Null_pointer_or_empty_mode_is_dropped()
    {
        Assert.False(InputValidator.IsValidPointer(null, 640, 480));
        Assert.False(InputValidator.IsValidPointer(new PointerEvent(0, 0, 0), 0, 0));
    }
}
