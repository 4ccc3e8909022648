using System.Text;
using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Virtio;

public sealed class RequestTests : IDisposable
{
    private readonly VirtioTestBed<EchoDevice> _bed = EchoTestBed.Create();

    private VirtioTestDriver Driver => _bed.Driver;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public void ARequestIsEchoedThroughTheUsedRingWithAnInterrupt()
    {
        Driver.Initialize();

        var response = Driver.Request(0, "hello, device"u8, 32);

        Assert.Equal("hello, device", Encoding.ASCII.GetString(response));
        Assert.Equal(1, Driver.UsedIndex(0));
        Assert.Equal(VirtioMmio.InterruptUsedBuffer, Driver.InterruptStatus);
        Assert.Equal([true], _bed.Irq.Levels);

        Driver.Ack(VirtioMmio.InterruptUsedBuffer);

        Assert.Equal(0u, Driver.InterruptStatus);
        Assert.Equal([true, false], _bed.Irq.Levels);
        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
    }

    [Fact]
    public void TheUsedRingCarriesTheHeadAndTheBytesWritten()
    {
        Driver.Initialize();
        var request = Driver.Alloc(3);
        Driver.Memory.Write(request, "abc"u8);
        var response = Driver.Alloc(8);

        var head = Driver.Submit(0, (request, 3, false), (response, 8, true));
        Assert.Empty(Driver.TakeUsed(0)); // nothing before the notify
        Driver.Notify(0);

        Assert.Equal([(head, 3u)], Driver.TakeUsed(0));
        Assert.Equal(Driver.QueueSize(0), Driver.FreeDescriptors(0));
    }

    [Fact]
    public void ChainsSpanningSeveralSegmentsAreGatheredAndScattered()
    {
        Driver.Initialize();
        var a = Driver.Alloc(5);
        var b = Driver.Alloc(6);
        var outs = new[] { Driver.Alloc(4), Driver.Alloc(4), Driver.Alloc(8) };
        Driver.Memory.Write(a, "hello"u8);
        Driver.Memory.Write(b, " world"u8);

        Driver.Submit(0, (a, 5, false), (b, 6, false), (outs[0], 4, true), (outs[1], 4, true), (outs[2], 8, true));
        Driver.Notify(0);

        Assert.Equal(11u, Assert.Single(Driver.TakeUsed(0)).Length);
        var text = string.Concat(outs.Select((o, i) =>
        {
            var bytes = new byte[i < 2 ? 4 : 3];
            Driver.Memory.Read(o, bytes);
            return Encoding.ASCII.GetString(bytes);
        }));
        Assert.Equal("hello world", text);
    }

    [Fact]
    public void RingIndexesWrapPast16Bits()
    {
        Driver.Initialize(queueSize: 4);

        for (var i = 0; i < 65_536 + 10; i++)
        {
            var payload = BitConverter.GetBytes(i);
            Assert.Equal(payload, Driver.Request(1, payload, 4));
        }

        Assert.Equal(10, Driver.UsedIndex(1));
        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
    }

    [Fact]
    public void AResetStopsTheDeviceAndItWorksAgainAfterReinitialisation()
    {
        Driver.Initialize();
        Driver.Request(0, "one"u8, 8);
        var resets = _bed.Device.Resets;

        Driver.WriteReg(VirtioMmio.RegStatus, 0);

        Assert.Equal(0u, Driver.Status);
        Assert.Equal(0u, Driver.InterruptStatus);
        Assert.False(_bed.Irq.Level);
        Assert.Equal(resets + 1, _bed.Device.Resets);
        Assert.Null(_bed.Device.Host.Active);

        Driver.Initialize();
        Assert.Equal("two", Encoding.ASCII.GetString(Driver.Request(0, "two"u8, 8)));
        Assert.Equal(2, _bed.Device.Activations);
    }

    [Fact]
    public void NotifyingBeforeDriverOkIsRefused()
    {
        Driver.Reset();
        Driver.Negotiate(1UL << 32);
        Driver.SetUpQueue(0, 16);
        Driver.SetUpQueue(1, 16);
        var buffer = Driver.Alloc(8);
        Driver.Submit(0, (buffer, 8, true));

        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNotify, 0));
        Assert.Equal(0, _bed.Device.Notifications);
        Assert.Equal(0, Driver.UsedIndex(0));
        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);

        Driver.AddStatus(VirtioMmio.StatusDriverOk);
        Driver.Notify(0);
        Assert.Single(Driver.TakeUsed(0));
    }

    [Fact]
    public void NotifyingAQueueThatDoesNotExistIsRefused()
    {
        Driver.Initialize();

        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNotify, 2));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNotify, 0xFFFF_FFFF));
        Assert.Equal(0, _bed.Device.Notifications);
    }

    [Fact]
    public void NotifyingAQueueThatWasNeverMadeReadyNeedsReset()
    {
        Driver.Reset();
        Driver.Negotiate(1UL << 32);
        Driver.SetUpQueue(0, 16);
        Driver.AddStatus(VirtioMmio.StatusDriverOk);

        Driver.Notify(1);

        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Contains("before it was made ready", _bed.Transport.LastError);
    }

    [Fact]
    public void ClearingStatusBitsWithoutAResetNeedsReset()
    {
        Driver.Initialize();

        Driver.WriteReg(VirtioMmio.RegStatus, VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver | VirtioMmio.StatusFeaturesOk);

        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.NotEqual(0u, Driver.InterruptStatus & VirtioMmio.InterruptConfigChange);
        Assert.Contains("without a reset", _bed.Transport.LastError);
        Assert.Null(_bed.Device.Host.Active);
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNotify, 0));

        Driver.Initialize();
        Assert.Equal("ok", Encoding.ASCII.GetString(Driver.Request(0, "ok"u8, 2)));
    }

    [Fact]
    public void DriverOkWithoutFeaturesOkNeedsReset()
    {
        Driver.AddStatus(VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver);
        Driver.WriteFeatures(1UL << 32);
        Driver.AddStatus(VirtioMmio.StatusDriverOk);

        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Equal(0, _bed.Device.Activations);
    }

    [Fact]
    public void ConfigChangeRaisesItsInterruptBitAndBumpsTheGeneration()
    {
        Driver.Initialize();
        var generation = Driver.ReadReg(VirtioMmio.RegConfigGeneration);

        _bed.Device.Host.Guard(_bed.Device.Host.SignalConfigChange);

        Assert.Equal(generation + 1, Driver.ReadReg(VirtioMmio.RegConfigGeneration));
        Assert.Equal(VirtioMmio.InterruptConfigChange, Driver.InterruptStatus);
        Assert.True(_bed.Irq.Level);
        Driver.Ack(VirtioMmio.InterruptConfigChange);
        Assert.False(_bed.Irq.Level);
    }

    [Fact]
    public void AcknowledgingOneInterruptBitKeepsTheLineHighForTheOther()
    {
        Driver.Initialize();
        Driver.Request(0, "x"u8, 1);
        _bed.Device.Host.Guard(_bed.Device.Host.SignalConfigChange);

        Driver.Ack(VirtioMmio.InterruptUsedBuffer);

        Assert.Equal(VirtioMmio.InterruptConfigChange, Driver.InterruptStatus);
        Assert.True(_bed.Irq.Level);
        Assert.Equal([true], _bed.Irq.Levels);
    }
}
