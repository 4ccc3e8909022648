using System.Text;
using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Virtio;

/// <summary>A driver that breaks the ring contract gets DEVICE_NEEDS_RESET, and nothing in guest memory changes.</summary>
public sealed class HostileQueueTests : IDisposable
{
    private const ushort Next = 1, Write = 2, Indirect = 4;
    private const ulong RamSize = VirtioTestBed<EchoDevice>.RamSize;

    private readonly VirtioTestBed<EchoDevice> _bed = EchoTestBed.Create();

    public HostileQueueTests() => Driver.Initialize(queueSize: 16);

    private VirtioTestDriver Driver => _bed.Driver;

    public void Dispose() => _bed.Dispose();

    public static TheoryData<string> Cases =>
    [
        "address beyond RAM",
        "address crossing the end of RAM",
        "address wrapping around",
        "looping chain",
        "self-looping descriptor",
        "huge length",
        "next index out of range",
        "head index equal to the size",
        "head index 0xFFFF",
        "avail index jumping past the ring",
        "readable after writable",
        "indirect descriptor",
    ];

    /// <summary>Builds the hostile request on queue 0 (published, not notified) and returns the error text it must produce.</summary>
    private string Build(string name)
    {
        var buffer = Driver.Alloc(64);
        Driver.Memory.Write(buffer, Enumerable.Repeat((byte)0xAB, 64).ToArray());
        switch (name)
        {
            case "address beyond RAM":
                return Single(RamSize, 16, Write, "outside guest RAM");
            case "address crossing the end of RAM":
                return Single(RamSize - 8, 16, Write, "outside guest RAM");
            case "address wrapping around":
                return Single(0xFFFF_FFFF_FFFF_FFF8, 16, Write, "outside guest RAM");
            case "huge length":
                return Single(buffer, 0xFFFF_FFFF, Write, "outside guest RAM");
            case "indirect descriptor":
                return Single(buffer, 64, Indirect, "indirect");
            case "looping chain":
                Driver.WriteDescriptor(0, 0, buffer, 16, Next | Write, 1);
                Driver.WriteDescriptor(0, 1, buffer + 16, 16, Next | Write, 0);
                Driver.PublishAvail(0, 0);
                return "loops";
            case "self-looping descriptor":
                return Single(buffer, 16, Next, "loops", next: 0);
            case "next index out of range":
                return Single(buffer, 16, Next, "out of range", next: 16);
            case "head index equal to the size":
                Driver.WriteDescriptor(0, 0, buffer, 16, Write, 0);
                Driver.PublishAvail(0, 16);
                return "out of range";
            case "head index 0xFFFF":
                Driver.PublishAvail(0, 0xFFFF);
                return "out of range";
            case "avail index jumping past the ring":
                Driver.WriteDescriptor(0, 0, buffer, 16, Write, 0);
                Driver.SetAvailIndex(0, 17);
                return "ahead";
            case "readable after writable":
                Driver.WriteDescriptor(0, 0, buffer, 16, Next | Write, 1);
                Driver.WriteDescriptor(0, 1, buffer + 16, 16, 0, 0);
                Driver.PublishAvail(0, 0);
                return "follows a writable";
            default:
                throw new ArgumentException(name);
        }
    }

    private string Single(ulong address, uint length, ushort flags, string error, ushort next = 0)
    {
        Driver.WriteDescriptor(0, 0, address, length, flags, next);
        Driver.PublishAvail(0, 0);
        return error;
    }

    private void AssertNeedsReset(string error, byte[] ramBefore)
    {
        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.NotEqual(0u, Driver.InterruptStatus & VirtioMmio.InterruptConfigChange);
        Assert.True(_bed.Irq.Level);
        Assert.Contains(error, _bed.Transport.LastError);
        Assert.Null(_bed.Device.Host.Active);
        Assert.Equal(ramBefore, _bed.SnapshotRam()); // not even the used ring moved
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AHostileChainNotifiedFromTheVcpuNeedsReset(string name)
    {
        var error = Build(name);
        var before = _bed.SnapshotRam();

        Driver.Notify(0);

        AssertNeedsReset(error, before);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AHostileChainFoundByHostThreadWorkNeedsReset(string name)
    {
        _bed.Device.EchoOnNotify = false;
        var error = Build(name);
        var before = _bed.SnapshotRam();

        var worker = new Thread(() => _bed.Device.Host.Guard(() => _bed.Device.ProcessQueue(0)));
        worker.Start();
        worker.Join();

        AssertNeedsReset(error, before);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AfterAResetTheDeviceWorksAgain(string name)
    {
        Build(name);
        Driver.Notify(0);

        Driver.Initialize();

        Assert.Equal("again", Encoding.ASCII.GetString(Driver.Request(0, "again"u8, 16)));
        Assert.Equal("other queue", Encoding.ASCII.GetString(Driver.Request(1, "other queue"u8, 16)));
    }

    [Fact]
    public void ABrokenDeviceIgnoresFurtherNotificationsUntilReset()
    {
        Build("looping chain");
        Driver.Notify(0);
        var notifications = _bed.Device.Notifications;

        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNotify, 1));
        Assert.Equal(notifications, _bed.Device.Notifications);
    }

    [Fact]
    public void AZeroLengthDescriptorAnywhereIsHarmless()
    {
        var buffer = Driver.Alloc(8);
        Driver.WriteDescriptor(0, 0, RamSize * 4, 0, Next | Write, 1); // empty: its address is never used
        Driver.WriteDescriptor(0, 1, buffer, 8, Write, 0);
        Driver.PublishAvail(0, 0);

        Driver.Notify(0);

        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Single(Driver.TakeUsed(0));
    }

    [Fact]
    public void AChainAsLongAsTheRingIsAccepted()
    {
        var buffer = Driver.Alloc(16);
        for (ushort i = 0; i < 16; i++)
            Driver.WriteDescriptor(0, i, buffer + i, 1, (ushort)(Write | (i < 15 ? Next : 0)), (ushort)(i + 1));
        Driver.PublishAvail(0, 0);

        Driver.Notify(0);

        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Equal(0u, Assert.Single(Driver.TakeUsed(0)).Length);
    }
}
