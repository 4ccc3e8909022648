using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Tests.Devices.Virtio;
using static Vdi.Vmm.Tests.Devices.Input.InputTestDriver;

namespace Vdi.Vmm.Tests.Devices.Input;

/// <summary>The bounded queue of events waiting for eventq buffers.</summary>
public sealed class PendingEventTests
{
    private const ushort KeyB = 48; // KEY_B

    [Fact]
    public void AFullQueueDropsWholeReportsAndOnceThereIsRoomSetsTheKeysAsTheHostLastSaid()
    {
        using var bed = InputTestBeds.Keyboard(pendingCapacity: 7);
        bed.Driver.Initialize();
        var keyboard = bed.Device;

        Assert.True(keyboard.InjectKey(Evdev.KeyA, KeyAction.Press));
        Assert.True(keyboard.InjectKey(Evdev.KeyA, KeyAction.Release));
        Assert.True(keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Press));
        Assert.False(keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Release)); // 6 + 2 > 7: dropped whole, not split
        Assert.False(keyboard.InjectKey(KeyB, KeyAction.Press)); // nothing jumps ahead of the lost release
        Assert.False(keyboard.InjectKey(KeyB, KeyAction.Release));

        Assert.Equal(6, keyboard.PendingEvents);
        Assert.Equal(6, keyboard.DroppedEvents);

        var input = new InputTestDriver(bed.Driver);
        input.PostEventBuffers(16);
        // Enter's release was lost; the guest is told Enter is up as soon as the queue has room. B went down and up
        // while the queue was full: its state did not change, so nothing is sent for it.
        Assert.Equal([Key(Evdev.KeyA, 1), Syn, Key(Evdev.KeyA, 0), Syn, Key(Evdev.KeyEnter, 1), Syn, Key(Evdev.KeyEnter, 0), Syn], input.TakeEvents());

        Assert.True(keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Press)); // room again
        Assert.Equal([Key(Evdev.KeyEnter, 1), Syn], input.TakeEvents());
        Assert.Equal(6, keyboard.DroppedEvents);
    }

    [Fact]
    public void TheDefaultQueueHolds64KiEvents()
    {
        using var bed = InputTestBeds.Keyboard();
        bed.Driver.Initialize();

        var accepted = Enumerable.Range(0, 33_000).Count(i => bed.Device.InjectKey(Evdev.KeyA, (KeyAction)((i + 1) % 2)));

        Assert.Equal(32_768, accepted);
        Assert.Equal(65_536, bed.Device.PendingEvents);
        Assert.Equal(2 * (33_000 - 32_768), bed.Device.DroppedEvents);
    }

    [Fact]
    public void Pointer_motion_behind_motion_the_guest_has_not_read_is_folded_into_it_and_buttons_never_are()
    {
        using var bed = InputTestBeds.Tablet();
        bed.Driver.Initialize();
        var tablet = bed.Device;
        var input = new InputTestDriver(bed.Driver);

        for (var x = 0; x < 1000; x++)
            Assert.True(tablet.InjectPointer(x, 7, PointerButtons.None));
        Assert.True(tablet.InjectPointer(5, 5, PointerButtons.Left));
        Assert.True(tablet.InjectPointer(6, 6, PointerButtons.Left));
        Assert.True(tablet.InjectPointer(8, 8, PointerButtons.Left));
        Assert.True(tablet.InjectPointer(9, 9, PointerButtons.None));

        Assert.Equal(3 + 4 + 3 + 4, tablet.PendingEvents);
        input.PostEventBuffers(14);
        Assert.Equal(
            [
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 999), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 7), Syn,
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 5), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 5), Key(Evdev.BtnLeft, 1), Syn,
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 8), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 8), Syn,
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 9), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 9), Key(Evdev.BtnLeft, 0), Syn,
            ],
            input.TakeEvents());
        Assert.Equal(0, tablet.DroppedEvents);
    }

    [Fact]
    public void A_dropped_pointer_release_reaches_the_guest_once_there_is_room()
    {
        using var bed = InputTestBeds.Tablet(pendingCapacity: 4);
        bed.Driver.Initialize();
        var tablet = bed.Device;
        var input = new InputTestDriver(bed.Driver);

        Assert.True(tablet.InjectPointer(1, 1, PointerButtons.Left));
        Assert.False(tablet.InjectPointer(2, 2, PointerButtons.None)); // the release does not fit
        input.PostEventBuffers(16);
        Assert.True(tablet.InjectPointer(3, 3, PointerButtons.None));

        Assert.Equal(
            [
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 1), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 1), Key(Evdev.BtnLeft, 1), Syn,
                Key(Evdev.BtnLeft, 0), Syn,
                new InputEvent(Evdev.EvAbs, Evdev.AbsX, 3), new InputEvent(Evdev.EvAbs, Evdev.AbsY, 3), Syn,
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
