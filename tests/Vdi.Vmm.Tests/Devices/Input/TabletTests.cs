using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Tests.Devices.Virtio;
using static Vdi.Vmm.Tests.Devices.Input.InputTestDriver;

namespace Vdi.Vmm.Tests.Devices.Input;

public sealed class TabletTests : IDisposable
{
    private readonly VirtioTestBed<VirtioTablet> _bed = InputTestBeds.Tablet();
    private readonly InputTestDriver _input;

    public TabletTests()
    {
        _bed.Driver.Initialize();
        _input = new InputTestDriver(_bed.Driver);
        _input.PostEventBuffers(16);
    }

    private VirtioTablet Tablet => _bed.Device;

    public void Dispose() => _bed.Dispose();

    private static InputEvent X(int value) => new(Evdev.EvAbs, Evdev.AbsX, value);

    private static InputEvent Y(int value) => new(Evdev.EvAbs, Evdev.AbsY, value);

    private static InputEvent Wheel(int value) => new(Evdev.EvRel, Evdev.RelWheel, value);

    [Fact]
    public void MotionSendsBothAxesAndSyn()
    {
        Assert.True(Tablet.InjectPointer(100, 200, PointerButtons.None));

        Assert.Equal([X(100), Y(200), Syn], _input.TakeEvents());
    }

    [Fact]
    public void OnlyButtonsThatChangedAreSent()
    {
        Tablet.InjectPointer(10, 20, PointerButtons.Left);
        Tablet.InjectPointer(11, 21, PointerButtons.Left | PointerButtons.Middle);
        Tablet.InjectPointer(12, 22, PointerButtons.Right);

        Assert.Equal(
            [
                X(10), Y(20), Key(Evdev.BtnLeft, 1), Syn,
                X(11), Y(21), Key(Evdev.BtnMiddle, 1), Syn,
                X(12), Y(22), Key(Evdev.BtnLeft, 0), Key(Evdev.BtnRight, 1), Key(Evdev.BtnMiddle, 0), Syn,
            ],
            _input.TakeEvents());
    }

    [Fact]
    public void WheelIsSentOnlyWhenNonZero()
    {
        Tablet.InjectPointer(5, 5, PointerButtons.None, wheel: -2);
        Tablet.InjectPointer(5, 5, PointerButtons.None, wheel: 0);

        Assert.Equal([X(5), Y(5), Wheel(-2), Syn, X(5), Y(5), Syn], _input.TakeEvents());
    }

    [Theory]
    [InlineData(-5, 10, 0, 10)]
    [InlineData(5000, 10, 1023, 10)]
    [InlineData(10, 768, 10, 767)]
    [InlineData(int.MinValue, int.MaxValue, 0, 767)]
    public void OutOfRangeCoordinatesAreClampedAndCounted(int x, int y, int cx, int cy)
    {
        Assert.True(Tablet.InjectPointer(x, y, PointerButtons.None));

        Assert.Equal([X(cx), Y(cy), Syn], _input.TakeEvents());
        Assert.Equal(1, Tablet.ClampedInputs);
    }

    [Fact]
    public void ClampingFollowsSetExtent()
    {
        Tablet.SetExtent(1920, 1080);

        Tablet.InjectPointer(1919, 1079, PointerButtons.None);
        Tablet.InjectPointer(1920, 1080, PointerButtons.None);

        Assert.Equal([X(1919), Y(1079), Syn, X(1919), Y(1079), Syn], _input.TakeEvents());
        Assert.Equal(1, Tablet.ClampedInputs);
    }

    [Fact]
    public void UnknownButtonBitsAreIgnoredAndCounted()
    {
        Tablet.InjectPointer(1, 1, (PointerButtons)0x18 | PointerButtons.Right);

        Assert.Equal([X(1), Y(1), Key(Evdev.BtnRight, 1), Syn], _input.TakeEvents());
        Assert.Equal(1, Tablet.ClampedInputs);
        Assert.Equal(0, Tablet.RefusedInputs);
    }

    [Fact]
    public void AResetForgetsHeldButtons()
    {
        Tablet.InjectPointer(1, 1, PointerButtons.Left);
        _input.TakeEvents();

        _bed.Driver.Initialize();
        var input = new InputTestDriver(_bed.Driver);
        input.PostEventBuffers(4);
        Tablet.InjectPointer(2, 2, PointerButtons.Left);

        Assert.Equal([X(2), Y(2), Key(Evdev.BtnLeft, 1), Syn], input.TakeEvents()); // pressed again: the new driver never saw the first press
    }
}
