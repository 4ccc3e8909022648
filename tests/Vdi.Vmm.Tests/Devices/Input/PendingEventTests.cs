using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Tests.Devices.Virtio;
using static Vdi.Vmm.Tests.Devices.Input.InputTestDriver;

namespace Vdi.Vmm.Tests.Devices.Input;

/// <summary>The bounded queue of events waiting for eventq buffers.</summary>
public sealed class PendingEventTests
{
    [Fact]
    public void AFullQueueDropsWholeReportsAndCountsTheirEvents()
    {
        using var bed = InputTestBeds.Keyboard(pendingCapacity: 7);
        bed.Driver.Initialize();
        var keyboard = bed.Device;

        Assert.True(keyboard.InjectKey(Evdev.KeyA, KeyAction.Press));
        Assert.True(keyboard.InjectKey(Evdev.KeyA, KeyAction.Release));
        Assert.True(keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Press));
        Assert.False(keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Release)); // 6 + 2 > 7: dropped whole, not split

        Assert.Equal(6, keyboard.PendingEvents);
        Assert.Equal(2, keyboard.DroppedEvents);

        var input = new InputTestDriver(bed.Driver);
        input.PostEventBuffers(16);
        Assert.Equal([Key(Evdev.KeyA, 1), Syn, Key(Evdev.KeyA, 0), Syn, Key(Evdev.KeyEnter, 1), Syn], input.TakeEvents());

        Assert.True(keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Release)); // room again
        Assert.Equal([Key(Evdev.KeyEnter, 0), Syn], input.TakeEvents());
        Assert.Equal(2, keyboard.DroppedEvents);
    }

    [Fact]
    public void TheDefaultQueueHolds1024Events()
    {
        using var bed = InputTestBeds.Keyboard();
        bed.Driver.Initialize();

        var accepted = Enumerable.Range(0, 600).Count(i => bed.Device.InjectKey(Evdev.KeyA, (KeyAction)(i % 2)));

        Assert.Equal(512, accepted);
        Assert.Equal(1024, bed.Device.PendingEvents);
        Assert.Equal(2 * 88, bed.Device.DroppedEvents);
    }

    [Fact]
    public void ADroppedPointerReportLeavesTheButtonStateAsTheGuestKnowsIt()
    {
        using var bed = InputTestBeds.Tablet(pendingCapacity: 4);
        bed.Driver.Initialize();
        var tablet = bed.Device;
        var input = new InputTestDriver(bed.Driver);

        Assert.True(tablet.InjectPointer(1, 1, PointerButtons.Left));
        Assert.False(tablet.InjectPointer(2, 2, PointerButtons.None)); // the release is lost
        input.PostEventBuffers(16);
        Assert.True(tablet.InjectPointer(3, 3, PointerButtons.None));

        Assert.Equal(
            [
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 1), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 1), Key(Evdev.BtnLeft, 1), Syn,
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 3), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 3), Key(Evdev.BtnLeft, 0), Syn,
            ],
            input.TakeEvents());
        Assert.Equal(4, tablet.DroppedEvents);
    }

    [Fact]
    public void AResetDropsPendingEvents()
    {
        using var bed = InputTestBeds.Keyboard();
        bed.Driver.Initialize();
        bed.Device.InjectKey(Evdev.KeyA, KeyAction.Press);
        Assert.Equal(2, bed.Device.PendingEvents);

        bed.Driver.Initialize(); // starts with a reset

        Assert.Equal(0, bed.Device.PendingEvents);
        var input = new InputTestDriver(bed.Driver);
        input.PostEventBuffers(4);
        Assert.Empty(input.TakeEvents());
        Assert.Equal(0, bed.Device.DroppedEvents);
    }
}
