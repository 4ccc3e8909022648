using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Tests.Devices.Virtio;
using static Vdi.Vmm.Tests.Devices.Input.InputTestDriver;

namespace Vdi.Vmm.Tests.Devices.Input;

public sealed class KeyboardTests : IDisposable
{
    private readonly VirtioTestBed<VirtioKeyboard> _bed = InputTestBeds.Keyboard();
    private readonly InputTestDriver _input;

    public KeyboardTests()
    {
        _bed.Driver.Initialize();
        _input = new InputTestDriver(_bed.Driver);
    }

    private VirtioKeyboard Keyboard => _bed.Device;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public void TypingAKeyFillsPostedBuffersWithPressSynReleaseSyn()
    {
        _input.PostEventBuffers(8);

        Assert.True(Keyboard.InjectKey(Evdev.KeyA, KeyAction.Press));
        Assert.True(Keyboard.InjectKey(Evdev.KeyA, KeyAction.Release));

        Assert.Equal([Key(Evdev.KeyA, 1), Syn, Key(Evdev.KeyA, 0), Syn], _input.TakeEvents());
        Assert.Equal(VirtioMmio.InterruptUsedBuffer, _bed.Driver.InterruptStatus);
        Assert.True(_bed.Irq.Level);
        Assert.Equal(4, Keyboard.DeliveredEvents);
        Assert.Equal(0, Keyboard.PendingEvents);
        Assert.Equal(16 - 8 + 4, _bed.Driver.FreeDescriptors(VirtioInputDevice.EventQueue)); // four buffers stay posted
    }

    [Fact]
    public void RepeatSendsValueTwo()
    {
        _input.PostEventBuffers(4);

        Keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Press);
        Keyboard.InjectKey(Evdev.KeyEnter, KeyAction.Repeat);

        Assert.Equal([Key(Evdev.KeyEnter, 1), Syn, Key(Evdev.KeyEnter, 2), Syn], _input.TakeEvents());
    }

    [Fact]
    public void EventsWaitForBuffersAndArriveInOrderWhenTheyArePosted()
    {
        Keyboard.InjectKey(Evdev.KeyLeftShift, KeyAction.Press);
        Keyboard.InjectKey(Evdev.KeyA, KeyAction.Press);
        Assert.Equal(4, Keyboard.PendingEvents);
        Assert.Equal(0, _bed.Driver.UsedIndex(VirtioInputDevice.EventQueue));
        Assert.Equal(0u, _bed.Driver.InterruptStatus);

        _input.PostEventBuffers(3);
        Assert.Equal([Key(Evdev.KeyLeftShift, 1), Syn, Key(Evdev.KeyA, 1)], _input.TakeEvents());
        Assert.Equal(1, Keyboard.PendingEvents);

        _input.PostEventBuffers(3);
        Assert.Equal([Syn], _input.TakeEvents());
        Assert.Equal(0, Keyboard.PendingEvents);

        Keyboard.InjectKey(Evdev.KeyA, KeyAction.Release); // two buffers are still posted
        Assert.Equal([Key(Evdev.KeyA, 0), Syn], _input.TakeEvents());
    }

    [Fact]
    public void EventsTypedBeforeTheDriverStartsAreDroppedByItsReset()
    {
        _bed.Driver.Reset();
        Assert.True(Keyboard.InjectKey(Evdev.KeyEsc, KeyAction.Press));
        Assert.Equal(2, Keyboard.PendingEvents);

        _bed.Driver.Initialize(); // a probing driver starts with a reset
        var input = new InputTestDriver(_bed.Driver);
        input.PostEventBuffers(2);

        Assert.Empty(input.TakeEvents());
        Assert.Equal(0, Keyboard.PendingEvents);
    }

    [Fact]
    public void EventsBetweenDriverOkAndTheFirstBuffersAreKept()
    {
        Keyboard.InjectKey(Evdev.KeyEsc, KeyAction.Press); // the driver is up but has posted nothing yet

        _input.PostEventBuffers(2);

        Assert.Equal([Key(Evdev.KeyEsc, 1), Syn], _input.TakeEvents());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(249)]
    [InlineData(Evdev.BtnLeft)]
    [InlineData(0xFFFF)]
    public void CodesTheKeyboardDoesNotAdvertiseAreRefusedAndCounted(ushort code)
    {
        _input.PostEventBuffers(2);

        Assert.False(Keyboard.InjectKey(code, KeyAction.Press));

        Assert.Equal(1, Keyboard.RefusedInputs);
        Assert.Equal(0, Keyboard.PendingEvents);
        Assert.Empty(_input.TakeEvents());
    }

    [Fact]
    public void UnknownActionsAreRefused()
    {
        Assert.False(Keyboard.InjectKey(Evdev.KeyA, (KeyAction)3));
        Assert.Equal(1, Keyboard.RefusedInputs);
        Assert.Equal(0, Keyboard.PendingEvents);
    }

    [Fact]
    public void LedStateComesBackOnTheStatusQueue()
    {
        _input.SendStatus(new InputEvent(Evdev.EvLed, Evdev.LedCapsLock, 1));
        Assert.Equal(1u << Evdev.LedCapsLock, Keyboard.Leds);

        _input.SendStatus(new InputEvent(Evdev.EvLed, Evdev.LedNumLock, 1));
        _input.SendStatus(new InputEvent(Evdev.EvLed, Evdev.LedCapsLock, 0));
        _input.SendStatus(new InputEvent(Evdev.EvLed, 9, 1)); // not an advertised LED: consumed, ignored
        _input.SendStatus(new InputEvent(Evdev.EvSyn, Evdev.SynReport, 0));

        Assert.Equal(1u << Evdev.LedNumLock, Keyboard.Leds);
        Assert.Equal(0u, _bed.Driver.Status & VirtioMmio.StatusDeviceNeedsReset);

        _bed.Driver.Initialize();
        Assert.Equal(0u, Keyboard.Leds);
    }

    [Fact]
    public void HostThreadsTypingWhileTheDriverPostsBuffersDeliverEveryEventInOrder()
    {
        const int Presses = 2_000;
        var keyboard = new VirtioKeyboard(pendingCapacity: 4 * Presses);
        using var bed = new VirtioTestBed<VirtioKeyboard>(keyboard);
        bed.Driver.Initialize(queueSize: 64);
        var input = new InputTestDriver(bed.Driver);
        var refused = 0;
        var typist = new Thread(() =>
        {
            for (var i = 0; i < Presses; i++)
            {
                var code = (ushort)(1 + (i % 248));
                if (!keyboard.InjectKey(code, KeyAction.Press) || !keyboard.InjectKey(code, KeyAction.Release))
                    refused++;
            }
        });
        typist.Start();

        var events = new List<InputEvent>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (events.Count < 4 * Presses)
        {
            Assert.True(DateTime.UtcNow < deadline, $"stalled at {events.Count} events: {bed.Transport.LastError}");
            events.AddRange(input.TakeEvents());
            var free = bed.Driver.FreeDescriptors(VirtioInputDevice.EventQueue);
            if (free > 0)
                input.PostEventBuffers(free);
            bed.Driver.Ack(VirtioMmio.InterruptUsedBuffer);
        }
        typist.Join();

        Assert.Equal(0, refused);
        var expected = Enumerable.Range(0, Presses).SelectMany(i =>
        {
            var code = (ushort)(1 + (i % 248));
            return new[] { Key(code, 1), Syn, Key(code, 0), Syn };
        });
        Assert.Equal(expected, events);
        Assert.Equal(0, keyboard.DroppedEvents);
        Assert.Null(bed.Transport.LastError);
    }
}
