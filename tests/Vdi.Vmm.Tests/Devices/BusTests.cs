using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Tests.Devices;

public sealed class BusTests
{
    private readonly AccessLog _log = new();
    private readonly Bus _bus;

    public BusTests() => _bus = new Bus(AccessSpace.Pio, _log);

    [Theory]
    [InlineData(0x100UL, 8UL)] // the same range
    [InlineData(0x0FFUL, 2UL)] // overlaps the first byte
    [InlineData(0x107UL, 1UL)] // overlaps the last byte
    [InlineData(0x107UL, 0x100UL)] // starts on the last byte
    [InlineData(0x104UL, 1UL)] // inside
    [InlineData(0x0F0UL, 0x100UL)] // covers it
    public void RegisterRefusesAnyOverlap(ulong start, ulong length)
    {
        var existing = new RecordingDevice();
        _bus.Register(0x100, 8, existing);

        Assert.Throws<InvalidOperationException>(() => _bus.Register(start, length, new RecordingDevice()));

        Assert.Same(existing, _bus.DeviceAt(0x100));
        Assert.Same(existing, _bus.DeviceAt(0x107));
    }

    [Theory]
    [InlineData(0x100UL, 0UL)]
    [InlineData(ulong.MaxValue, 2UL)]
    public void RegisterRefusesEmptyOrWrappingRanges(ulong start, ulong length) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => _bus.Register(start, length, new RecordingDevice()));

    [Fact]
    public void AdjacentRangesAreAcceptedAndDispatchedToTheirOwnDevice()
    {
        var below = new RecordingDevice { ReadByte = 0x11 };
        var middle = new RecordingDevice { ReadByte = 0x22 };
        var above = new RecordingDevice { ReadByte = 0x33 };
        _bus.Register(0x108, 8, above);
        _bus.Register(0x0F8, 8, below);
        _bus.Register(0x100, 8, middle);

        var data = new byte[1];
        Assert.True(_bus.Read(0x0FF, 0, data));
        Assert.Equal(0x11, data[0]);
        Assert.True(_bus.Read(0x100, 0, data));
        Assert.Equal(0x22, data[0]);
        Assert.True(_bus.Read(0x107, 0, data));
        Assert.Equal(0x22, data[0]);
        Assert.True(_bus.Read(0x108, 0, data));
        Assert.Equal(0x33, data[0]);
        Assert.Null(_bus.DeviceAt(0x0F7));
        Assert.Null(_bus.DeviceAt(0x110));
        Assert.Equal(0, _log.Total);
    }

    [Fact]
    public void DevicesSeeOffsetAbsoluteAddressVcpuAndData()
    {
        var device = new RecordingDevice { ReadByte = 0x42 };
        _bus.Register(0x3F8, 8, device);

        var read = new byte[2];
        Assert.True(_bus.Read(0x3FA, 3, read));
        Assert.True(_bus.Write(0x3FC, 5, new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }));

        Assert.Equal(new byte[] { 0x42, 0x42 }, read);
        Assert.Collection(
            device.Calls,
            c => Assert.Equal((false, new BusAccess(2, 0x3FA, 3), 2), (c.IsWrite, c.Access, c.Data.Length)),
            c =>
            {
                Assert.Equal((true, new BusAccess(4, 0x3FC, 5)), (c.IsWrite, c.Access));
                Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, c.Data);
            });
    }

    [Fact]
    public void UnmappedReadReturnsAllOnesAndIsLogged()
    {
        _bus.Register(0x100, 8, new RecordingDevice());
        var data = new byte[] { 1, 2, 3, 4 };

        Assert.False(_bus.Read(0x80, 7, data));

        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, data);
        var entry = Assert.Single(_log.Recent());
        Assert.Equal(new GuestAccess(AccessSpace.Pio, 0x80, 4, 0, false, 7, AccessOutcome.Unmapped), entry);
        Assert.Equal(1, _log.Count(AccessOutcome.Unmapped));
    }

    [Fact]
    public void UnmappedWriteIsDroppedAndLoggedWithItsData()
    {
        var mmio = new Bus(AccessSpace.Mmio, _log);

        Assert.False(mmio.Write(0xFEB0_0000, 2, new byte[] { 0x34, 0x12 }));

        var entry = Assert.Single(_log.Recent());
        Assert.Equal(new GuestAccess(AccessSpace.Mmio, 0xFEB0_0000, 2, 0x1234, true, 2, AccessOutcome.Unmapped), entry);
    }

    [Fact]
    public void AccessCrossingTheEndOfARangeIsRefusedWithoutReachingTheDevice()
    {
        var device = new RecordingDevice();
        _bus.Register(0x100, 4, device);
        var data = new byte[4];

        Assert.False(_bus.Read(0x102, 0, data));
        Assert.False(_bus.Write(0x103, 0, new byte[] { 1, 2 }));

        Assert.Empty(device.Calls);
        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, data);
        Assert.Equal(2, _log.Count(AccessOutcome.Unmapped));
        Assert.True(_bus.Read(0x102, 0, data.AsSpan(0, 2))); // the same access, inside the range
        Assert.Single(device.Calls);
    }

    [Fact]
    public void ThrowingDeviceCostsOneAccessAndTheBusKeepsGoing()
    {
        var faulty = new RecordingDevice { Throw = true, ReadByte = 0x00 };
        var healthy = new RecordingDevice { ReadByte = 0x66 };
        _bus.Register(0x100, 1, faulty);
        _bus.Register(0x101, 1, healthy);
        var data = new byte[1];

        Assert.False(_bus.Read(0x100, 1, data));
        Assert.Equal(0xFF, data[0]); // whatever the device left there, the guest sees all ones
        Assert.False(_bus.Write(0x100, 1, new byte[] { 9 }));

        Assert.True(_bus.Read(0x101, 1, data));
        Assert.Equal(0x66, data[0]);
        Assert.Equal(2, _log.Count(AccessOutcome.DeviceFault));
        Assert.Equal(
            [
                new GuestAccess(AccessSpace.Pio, 0x100, 1, 0, false, 1, AccessOutcome.DeviceFault),
                new GuestAccess(AccessSpace.Pio, 0x100, 1, 9, true, 1, AccessOutcome.DeviceFault),
            ],
            _log.Recent());
    }

    [Fact]
    public void RefusedAccessReadsAllOnesAndIsLoggedAsRefused()
    {
        _bus.Register(0x100, 8, new RecordingDevice { Refuse = true });
        var data = new byte[2];

        Assert.False(_bus.Read(0x104, 0, data));
        Assert.False(_bus.Write(0x104, 0, new byte[] { 1 }));

        Assert.Equal(new byte[] { 0xFF, 0xFF }, data);
        Assert.Equal(2, _log.Count(AccessOutcome.RefusedByDevice));
        Assert.Equal(0, _log.Count(AccessOutcome.Unmapped));
    }

    [Fact]
    public void EmptyAndOversizedReadsAreRefused()
    {
        var device = new RecordingDevice();
        _bus.Register(0x0, 0x100, device);

        Assert.False(_bus.Read(0x10, 0, Span<byte>.Empty));
        Assert.False(_bus.Read(0x10, 0, new byte[9]));

        Assert.Empty(device.Calls);
        Assert.Equal(2, _log.Count(AccessOutcome.Unmapped));
    }

    [Fact]
    public void RangesRegisteredOutOfOrderWhileDispatchingAreAllFound()
    {
        var devices = Enumerable.Range(0, 64).Select(_ => new RecordingDevice()).ToArray();
        var registrar = new Thread(() =>
        {
            for (var n = 0; n < devices.Length; n++)
            {
                var i = n * 37 % devices.Length; // a permutation: lookups depend on the array staying sorted
                _bus.Register((ulong)i * 0x10, 0x10, devices[i]);
            }
        });

        registrar.Start();
        while (registrar.IsAlive)
            _bus.Write(0x3F0, 0, new byte[] { 1 });
        registrar.Join();

        Assert.True(_bus.Write(0x3F0, 0, new byte[] { 1 }));
        for (var i = 0; i < devices.Length; i++)
            Assert.Same(devices[i], _bus.DeviceAt(((ulong)i * 0x10) + 0xF));
    }
}
