using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Virtio;

public sealed class QueueSetupTests : IDisposable
{
    private const ulong Desc = 0x2000, Avail = 0x3000, Used = 0x4000;

    private readonly VirtioTestBed<EchoDevice> _bed = EchoTestBed.Create(queueCount: 2, maxQueueSize: 64);

    public QueueSetupTests() => Driver.Negotiate(1UL << 32);

    private VirtioTestDriver Driver => _bed.Driver;

    public void Dispose() => _bed.Dispose();

    private void Program(uint size, ulong desc, ulong avail, ulong used)
    {
        Driver.WriteReg(VirtioMmio.RegQueueSel, 0);
        Driver.WriteReg(VirtioMmio.RegQueueNum, size);
        Driver.WriteAddress(VirtioMmio.RegQueueDescLow, desc);
        Driver.WriteAddress(VirtioMmio.RegQueueDriverLow, avail);
        Driver.WriteAddress(VirtioMmio.RegQueueDeviceLow, used);
        Driver.WriteReg(VirtioMmio.RegQueueReady, 1);
    }

    private void AssertRefusedAtReady(string fragment)
    {
        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.NotEqual(0u, Driver.InterruptStatus & VirtioMmio.InterruptConfigChange);
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueReady));
        Assert.Contains(fragment, _bed.Transport.LastError);
        Assert.True(_bed.Irq.Level);
    }

    [Fact]
    public void QueueNumMaxReportsEachQueueAndZeroBeyondThem()
    {
        Driver.WriteReg(VirtioMmio.RegQueueSel, 0);
        Assert.Equal(64u, Driver.ReadReg(VirtioMmio.RegQueueNumMax));
        Driver.WriteReg(VirtioMmio.RegQueueSel, 1);
        Assert.Equal(64u, Driver.ReadReg(VirtioMmio.RegQueueNumMax));
        Driver.WriteReg(VirtioMmio.RegQueueSel, 2);
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueNumMax));
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueReady));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNum, 8));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueReady, 1));
    }

    [Fact]
    public void AWellPlacedQueueBecomesReadyAndReadsBack()
    {
        Program(32, Desc, Avail, Used);

        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Equal(1u, Driver.ReadReg(VirtioMmio.RegQueueReady));
        Assert.Equal(32u, Driver.ReadReg(VirtioMmio.RegQueueNum));
        Assert.Equal((uint)Desc, Driver.ReadReg(VirtioMmio.RegQueueDescLow));
        Assert.Equal((uint)Avail, Driver.ReadReg(VirtioMmio.RegQueueDriverLow));
        Assert.Equal((uint)Used, Driver.ReadReg(VirtioMmio.RegQueueDeviceLow));
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueDeviceHigh));
    }

    [Theory]
    [InlineData(12u)]
    [InlineData(0u)]
    [InlineData(128u)] // a power of two above QueueNumMax
    public void ASizeThatIsNotAPowerOfTwoWithinTheMaximumNeedsResetOnReady(uint size)
    {
        Program(size, Desc, Avail, Used);

        AssertRefusedAtReady("size");
    }

    [Fact]
    public void AQueueNumAbove16BitsIsRefused()
    {
        Driver.WriteReg(VirtioMmio.RegQueueSel, 0);
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNum, 0x1_0000));
        Assert.Equal(64u, Driver.ReadReg(VirtioMmio.RegQueueNum)); // still the reset default
    }

    [Theory]
    [InlineData(VirtioTestBed<EchoDevice>.RamSize, Avail, Used)]              // starts at the end of RAM
    [InlineData(VirtioTestBed<EchoDevice>.RamSize - 0x80, Avail, Used)]       // 16 x 16 bytes cross the end
    [InlineData(Desc, 0x1_0000_0000UL, Used)]                                 // above 4 GiB
    [InlineData(Desc, Avail, 0xFFFF_FFFF_FFFF_FF00UL)]                        // wraps around
    public void RingsOutsideRamNeedResetOnReady(ulong desc, ulong avail, ulong used)
    {
        Program(16, desc, avail, used);

        AssertRefusedAtReady("outside guest RAM");
    }

    [Theory]
    [InlineData(Desc + 8, Avail, Used)]
    [InlineData(Desc, Avail + 1, Used)]
    [InlineData(Desc, Avail, Used + 2)]
    public void MisalignedRingsNeedResetOnReady(ulong desc, ulong avail, ulong used)
    {
        Program(16, desc, avail, used);

        AssertRefusedAtReady("aligned");
    }

    [Fact]
    public void QueueRegistersAreReadOnlyOnceTheQueueIsReady()
    {
        Program(16, Desc, Avail, Used);

        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNum, 8));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueDescLow, 0x5000));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueDriverHigh, 1));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueDeviceLow, 0x6000));

        Assert.Equal(16u, Driver.ReadReg(VirtioMmio.RegQueueNum));
        Assert.Equal((uint)Desc, Driver.ReadReg(VirtioMmio.RegQueueDescLow));
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueDriverHigh));
        Assert.Equal((uint)Used, Driver.ReadReg(VirtioMmio.RegQueueDeviceLow));
    }

    [Fact]
    public void QueueRegistersAreReadOnlyAfterDriverOkEvenForAnUnusedQueue()
    {
        Program(16, Desc, Avail, Used);
        Driver.AddStatus(VirtioMmio.StatusDriverOk);
        Driver.WriteReg(VirtioMmio.RegQueueSel, 1);

        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueNum, 8));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegQueueDescLow, 0x5000));
    }

    [Fact]
    public void ResetClearsQueueConfiguration()
    {
        Program(16, Desc, Avail, Used);
        Driver.Reset();
        Driver.WriteReg(VirtioMmio.RegQueueSel, 0);

        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueReady));
        Assert.Equal(64u, Driver.ReadReg(VirtioMmio.RegQueueNum));
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegQueueDescLow));
    }
}
