using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Tests.Devices.Virtio;
using static Vdi.Vmm.Tests.Devices.Input.InputTestDriver;

namespace Vdi.Vmm.Tests.Devices.Input;

/// <summary>A driver that posts unusable buffers gets DEVICE_NEEDS_RESET; the host side keeps working.</summary>
public sealed class HostileInputQueueTests : IDisposable
{
    private readonly VirtioTestBed<VirtioKeyboard> _bed = InputTestBeds.Keyboard();

    public HostileInputQueueTests() => Driver.Initialize();

    private VirtioTestDriver Driver => _bed.Driver;

    public void Dispose() => _bed.Dispose();

    public static TheoryData<string> BadEventBuffers => ["readable only", "too small", "readable then writable"];

    private void PostBad(string kind)
    {
        var buffer = Driver.Alloc(16);
        var head = kind switch
        {
            "readable only" => Driver.Submit(VirtioInputDevice.EventQueue, (buffer, 8, false)),
            "too small" => Driver.Submit(VirtioInputDevice.EventQueue, (buffer, 4, true)),
            "readable then writable" => Driver.Submit(VirtioInputDevice.EventQueue, (buffer, 8, false), (buffer + 8, 8, true)),
            _ => throw new ArgumentException(kind),
        };
        Assert.True(head < 16);
    }

    private void AssertNeedsReset(string error, byte[] ramBefore)
    {
        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.NotEqual(0u, Driver.InterruptStatus & VirtioMmio.InterruptConfigChange);
        Assert.Contains(error, _bed.Transport.LastError);
        Assert.Equal(ramBefore, _bed.SnapshotRam());
    }

    private static string ErrorFor(string kind) => kind == "too small" ? "an event needs 8" : "device-readable";

    [Theory]
    [MemberData(nameof(BadEventBuffers))]
    public void ABadBufferFoundWhileDeliveringFromTheHostNeedsReset(string kind)
    {
        PostBad(kind);
        Driver.Notify(VirtioInputDevice.EventQueue); // nothing pending: not looked at yet
        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        var before = _bed.SnapshotRam();

        Assert.True(_bed.Device.InjectKey(Evdev.KeyA, KeyAction.Press)); // queued; delivery is what fails

        AssertNeedsReset(ErrorFor(kind), before);
    }

    [Theory]
    [MemberData(nameof(BadEventBuffers))]
    public void ABadBufferNotifiedWithEventsPendingNeedsReset(string kind)
    {
        _bed.Device.InjectKey(Evdev.KeyA, KeyAction.Press);
        PostBad(kind);
        var before = _bed.SnapshotRam();

        Driver.Notify(VirtioInputDevice.EventQueue);

        AssertNeedsReset(ErrorFor(kind), before);
    }

    [Fact]
    public void AfterNeedsResetTheHostKeepsTypingAndAResetRecovers()
    {
        _bed.Device.InjectKey(Evdev.KeyA, KeyAction.Press);
        PostBad("readable only");
        Driver.Notify(VirtioInputDevice.EventQueue);
        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);

        for (var i = 0; i < 2000; i++)
            _bed.Device.InjectKey(48, KeyAction.Press); // KEY_B. No exception, no delivery: held for the guest
        Assert.Equal(2 + (2 * 2000), _bed.Device.PendingEvents);

        Driver.Initialize();
        var input = new InputTestDriver(Driver);
        input.PostEventBuffers(4);
        Assert.True(_bed.Device.InjectKey(Evdev.KeyEnter, KeyAction.Press));
        Assert.Equal([Key(Evdev.KeyEnter, 1), Syn], input.TakeEvents());
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(8, true)]
    public void AStatusBufferThatIsNotAReadableEventNeedsReset(uint length, bool writable)
    {
        var buffer = Driver.Alloc(8);
        Driver.Submit(VirtioInputDevice.StatusQueue, (buffer, length, writable));
        var before = _bed.SnapshotRam();

        Driver.Notify(VirtioInputDevice.StatusQueue);

        AssertNeedsReset("statusq buffer", before);
    }
}
