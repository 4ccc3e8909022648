using System.Buffers.Binary;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Virtio;

public sealed class TransportDiscoveryTests : IDisposable
{
    private readonly VirtioTestBed<EchoDevice> _bed = EchoTestBed.Create();

    private VirtioTestDriver Driver => _bed.Driver;

    public void Dispose() => _bed.Dispose();

    [Fact]
    public void IdentificationRegistersDescribeAVersion2Device()
    {
        Assert.Equal(0x7472_6976u, Driver.ReadReg(VirtioMmio.RegMagic)); // "virt"
        Assert.Equal(2u, Driver.ReadReg(VirtioMmio.RegVersion));
        Assert.Equal(EchoDevice.Id, Driver.ReadReg(VirtioMmio.RegDeviceId));
        Assert.Equal(VirtioMmio.VendorId, Driver.ReadReg(VirtioMmio.RegVendorId));
        Assert.Equal(0u, Driver.Status);
        Assert.Equal(0u, Driver.InterruptStatus);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(8)]
    public void RegistersRefuseAccessesThatAreNot4Bytes(int size)
    {
        var data = new byte[size];
        Assert.False(_bed.Transport.Read(new BusAccess(VirtioMmio.RegMagic, 0, 0), data));
        Assert.False(_bed.Transport.Write(new BusAccess(VirtioMmio.RegStatus, 0, 0), data));
    }

    [Fact]
    public void UnknownRegistersAreRefused()
    {
        Assert.False(Driver.TryReadReg(0x018, out _));
        Assert.Equal(0xFFFF_FFFFu, Driver.ReadReg(0x018));
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegMagic, 0));
    }

    [Fact]
    public void DeviceFeatureWordsAreSelectedByDeviceFeaturesSel()
    {
        Driver.WriteReg(VirtioMmio.RegDeviceFeaturesSel, 0);
        Assert.Equal((uint)EchoDevice.FeatureLow, Driver.ReadReg(VirtioMmio.RegDeviceFeatures));
        Driver.WriteReg(VirtioMmio.RegDeviceFeaturesSel, 1);
        Assert.Equal(1u | (uint)(EchoDevice.FeatureHigh >> 32), Driver.ReadReg(VirtioMmio.RegDeviceFeatures)); // VERSION_1 is bit 32
        Driver.WriteReg(VirtioMmio.RegDeviceFeaturesSel, 2);
        Assert.Equal(0u, Driver.ReadReg(VirtioMmio.RegDeviceFeatures));

        Assert.Equal(EchoDevice.FeatureLow | EchoDevice.FeatureHigh | (1UL << 32), Driver.ReadDeviceFeatures());
    }

    [Fact]
    public void DriverFeatureWordsAreSelectedByDriverFeaturesSelAndReachTheDevice()
    {
        var wanted = EchoDevice.FeatureLow | EchoDevice.FeatureHigh | (1UL << 32);
        Driver.Initialize(wanted);

        Assert.Equal(wanted, _bed.Device.ActivatedFeatures);
        Assert.Equal(wanted, _bed.Device.Host.Active?.Features);
        Assert.True(_bed.Device.Host.Active!.HasFeature(35));
        Assert.False(_bed.Device.Host.Active!.HasFeature(1));
    }

    [Fact]
    public void DriverFeatureWordsBeyondTheSecondAreRefused()
    {
        Driver.AddStatus(VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver);
        Driver.WriteReg(VirtioMmio.RegDriverFeaturesSel, 1);
        Driver.WriteReg(VirtioMmio.RegDriverFeatures, 1); // VERSION_1 only
        Driver.WriteReg(VirtioMmio.RegDriverFeaturesSel, 2);
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegDriverFeatures, 0xFFFF_FFFF));
        Driver.AddStatus(VirtioMmio.StatusFeaturesOk); // nothing unoffered landed anywhere

        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusFeaturesOk);
    }

    [Fact]
    public void ADriverWithoutVersion1HasFeaturesOkRefused()
    {
        Driver.AddStatus(VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver);
        Driver.WriteFeatures(EchoDevice.FeatureLow); // a legacy driver
        Driver.AddStatus(VirtioMmio.StatusFeaturesOk);

        Assert.Equal(VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver, Driver.Status);

        Driver.AddStatus(VirtioMmio.StatusDriverOk); // pressing on anyway
        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusDeviceNeedsReset);
        Assert.Equal(0, _bed.Device.Activations);
    }

    [Fact]
    public void ADriverAcceptingAnUnofferedFeatureHasFeaturesOkRefused()
    {
        Driver.AddStatus(VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver);
        Driver.WriteFeatures((1UL << 32) | (1UL << 1));
        Driver.AddStatus(VirtioMmio.StatusFeaturesOk);

        Assert.Equal(0u, Driver.Status & VirtioMmio.StatusFeaturesOk);

        // Dropping the bit and asking again succeeds.
        Driver.WriteFeatures(1UL << 32);
        Driver.AddStatus(VirtioMmio.StatusFeaturesOk);
        Assert.NotEqual(0u, Driver.Status & VirtioMmio.StatusFeaturesOk);
    }

    [Fact]
    public void FeaturesAreFrozenOnceFeaturesOkIsSet()
    {
        Driver.Reset();
        Driver.Negotiate(1UL << 32);

        Driver.WriteReg(VirtioMmio.RegDriverFeaturesSel, 0);
        Assert.False(Driver.TryWriteReg(VirtioMmio.RegDriverFeatures, (uint)EchoDevice.FeatureLow));
        for (var q = 0; q < 2; q++)
            Driver.SetUpQueue(q, 16);
        Driver.AddStatus(VirtioMmio.StatusDriverOk);

        Assert.Equal(1UL << 32, _bed.Device.ActivatedFeatures);
    }

    [Fact]
    public void ConfigReadsWithinConfigSizeReturnTheDevicesFields()
    {
        var config = Driver.ReadConfig(0, 8);

        Assert.Equal(EchoDevice.Signature, BinaryPrimitives.ReadUInt32LittleEndian(config));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(4)));
        Assert.Equal(0xEE, Driver.ReadConfig(1, 1)[0]); // byte 1 of the signature
    }

    [Fact]
    public void ConfigWritesReachOnlyTheWritableField()
    {
        Assert.True(Driver.TryWriteConfig(4, [0x78, 0x56, 0x34, 0x12]));
        Assert.False(Driver.TryWriteConfig(0, [0, 0, 0, 0]));

        var config = Driver.ReadConfig(0, 8);
        Assert.Equal(EchoDevice.Signature, BinaryPrimitives.ReadUInt32LittleEndian(config));
        Assert.Equal(0x1234_5678u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(4)));
    }

    [Theory]
    [InlineData(8, 1)]
    [InlineData(6, 4)]
    [InlineData(7, 2)]
    [InlineData(0xEFC, 4)]
    public void ConfigAccessesBeyondConfigSizeAreRefused(int offset, int length)
    {
        var data = new byte[length];
        var access = new BusAccess((ulong)(VirtioMmio.RegConfig + offset), 0, 0);

        Assert.False(_bed.Transport.Read(access, data));
        Assert.False(_bed.Transport.Write(access, data));
        Assert.Equal(0u, _bed.Device.WritableField);
    }

    [Fact]
    public void AGuestReadsAllOnesBeyondConfigSize()
    {
        Assert.False(Driver.TryReadConfig(8, new byte[4]));
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF], Driver.ReadConfig(8, 4));
        Assert.Equal([0x01, 0xEE, 0xFF, 0xC0, 0, 0, 0, 0, 0xFF, 0xFF], Driver.ReadConfig(0, 10));
    }
}
