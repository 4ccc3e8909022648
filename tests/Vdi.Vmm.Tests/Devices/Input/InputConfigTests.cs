using System.Buffers.Binary;
using System.Text;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Tests.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Input;

public sealed class InputConfigTests : IDisposable
{
    private readonly VirtioTestBed<VirtioKeyboard> _keyboard = InputTestBeds.Keyboard();
    private readonly VirtioTestBed<VirtioTablet> _tablet = InputTestBeds.Tablet();

    public void Dispose()
    {
        _keyboard.Dispose();
        _tablet.Dispose();
    }

    private InputTestDriver Keyboard => new(_keyboard.Driver);

    private InputTestDriver Tablet => new(_tablet.Driver);

    private static bool Bit(byte[] bitmap, int bit) => bit / 8 < bitmap.Length && (bitmap[bit / 8] & (1 << (bit % 8))) != 0;

    [Fact]
    public void BothDevicesAreVirtioInputWithTheSpecifiedConfigSize()
    {
        Assert.Equal(18u, _keyboard.Driver.ReadReg(VirtioMmio.RegDeviceId));
        Assert.Equal(18u, _tablet.Driver.ReadReg(VirtioMmio.RegDeviceId));
        Assert.Equal(136, _keyboard.Device.ConfigSize);
        Assert.Equal(1UL << 32, _keyboard.Driver.ReadDeviceFeatures());
        _keyboard.Driver.WriteReg(VirtioMmio.RegQueueSel, 2);
        Assert.Equal(0u, _keyboard.Driver.ReadReg(VirtioMmio.RegQueueNumMax)); // eventq and statusq only
    }

    [Fact]
    public void IdentitySelectsReturnNameSerialAndIds()
    {
        Assert.Equal("Vdi Keyboard", Encoding.ASCII.GetString(Keyboard.Select(VirtioInputSelect.IdName)));
        Assert.Equal("Vdi Tablet", Encoding.ASCII.GetString(Tablet.Select(VirtioInputSelect.IdName)));
        Assert.Equal("vdi-keyboard-0", Encoding.ASCII.GetString(Keyboard.Select(VirtioInputSelect.IdSerial)));

        var ids = Tablet.Select(VirtioInputSelect.IdDevIds);
        Assert.Equal(8, ids.Length);
        Assert.Equal(Evdev.BusVirtual, BinaryPrimitives.ReadUInt16LittleEndian(ids));
        Assert.Equal(VirtioInputIds.Vendor, BinaryPrimitives.ReadUInt16LittleEndian(ids.AsSpan(2)));
        Assert.Equal(VirtioInputIds.TabletProduct, BinaryPrimitives.ReadUInt16LittleEndian(ids.AsSpan(4)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(ids.AsSpan(6)));
    }

    [Fact]
    public void KeyboardEventBitsCoverTheLinuxKeyCodes1To248()
    {
        var keys = Keyboard.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvKey);

        Assert.Equal(32, keys.Length);
        Assert.True(Bit(keys, Evdev.KeyA));
        Assert.True(Bit(keys, Evdev.KeyEnter));
        Assert.True(Bit(keys, Evdev.KeyEsc));
        Assert.True(Bit(keys, 248));
        Assert.False(Bit(keys, 0)); // KEY_RESERVED
        Assert.Equal(248, Enumerable.Range(0, 256).Count(b => Bit(keys, b)));
        Assert.NotEmpty(Keyboard.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvRep));
        Assert.Equal([0x07], Keyboard.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvLed)); // NUML, CAPSL, SCROLLL
        Assert.Empty(Keyboard.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvAbs));
        Assert.Empty(Keyboard.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvRel));
        Assert.Empty(Keyboard.Select(VirtioInputSelect.AbsInfo, (byte)Evdev.AbsX));
        Assert.Empty(Keyboard.Select(VirtioInputSelect.PropBits));
    }

    [Fact]
    public void TabletEventBitsAreAnAbsolutePointerWithThreeButtonsAndAWheel()
    {
        var keys = Tablet.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvKey);
        Assert.Equal(35, keys.Length);
        Assert.Equal([Evdev.BtnLeft, Evdev.BtnRight, Evdev.BtnMiddle], Enumerable.Range(0, 1024).Where(b => Bit(keys, b)).Select(b => (ushort)b));

        Assert.Equal([0x03], Tablet.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvAbs)); // ABS_X, ABS_Y
        Assert.Equal([0x00, 0x01], Tablet.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvRel)); // REL_WHEEL = 8
        Assert.Empty(Tablet.Select(VirtioInputSelect.EvBits, (byte)Evdev.EvRep));
        Assert.Empty(Tablet.Select(VirtioInputSelect.PropBits)); // not INPUT_PROP_DIRECT: a pointer, not a touchscreen
    }

    private InputAbsInfo AbsInfo(ushort axis)
    {
        var info = Tablet.Select(VirtioInputSelect.AbsInfo, (byte)axis);
        Assert.Equal(20, info.Length);
        int At(int i) => BinaryPrimitives.ReadInt32LittleEndian(info.AsSpan(i * 4));
        return new InputAbsInfo(At(0), At(1), At(2), At(3), At(4));
    }

    [Fact]
    public void AbsInfoFollowsSetExtent()
    {
        Assert.Equal(new InputAbsInfo(0, 1023), AbsInfo(Evdev.AbsX));
        Assert.Equal(new InputAbsInfo(0, 767), AbsInfo(Evdev.AbsY));

        _tablet.Device.SetExtent(1920, 1080);

        Assert.Equal(new InputAbsInfo(0, 1919), AbsInfo(Evdev.AbsX));
        Assert.Equal(new InputAbsInfo(0, 1079), AbsInfo(Evdev.AbsY));
        Assert.Equal((1920, 1080), _tablet.Device.Extent);
        Assert.Empty(Tablet.Select(VirtioInputSelect.AbsInfo, 2)); // ABS_Z is not an axis
    }

    [Fact]
    public void AChangedExtentIsAConfigurationChange()
    {
        var driver = _tablet.Driver;
        driver.Initialize();
        var generation = driver.ReadReg(VirtioMmio.RegConfigGeneration);

        _tablet.Device.SetExtent(800, 600);
        Assert.Equal(generation + 1, driver.ReadReg(VirtioMmio.RegConfigGeneration));
        Assert.Equal(VirtioMmio.InterruptConfigChange, driver.InterruptStatus);
        driver.Ack(VirtioMmio.InterruptConfigChange);

        _tablet.Device.SetExtent(800, 600); // no change
        Assert.Equal(generation + 1, driver.ReadReg(VirtioMmio.RegConfigGeneration));
        Assert.Equal(0u, driver.InterruptStatus);
    }

    [Theory]
    [InlineData(0, 600)]
    [InlineData(800, -1)]
    [InlineData(VirtioTablet.MaxExtent + 1, 600)]
    public void ImpossibleExtentsAreAHostError(int width, int height)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _tablet.Device.SetExtent(width, height));
        Assert.Equal((1024, 768), _tablet.Device.Extent);
    }

    [Fact]
    public void UnknownSelectsHaveSizeZeroAndAnEmptyPayload()
    {
        var driver = _keyboard.Driver;
        foreach (var (select, subsel) in new (byte, byte)[] { (0x00, 0), (0x04, 0), (0x7F, 0), (VirtioInputSelect.IdName, 1), (VirtioInputSelect.EvBits, 0xFF) })
        {
            driver.WriteConfig(0, [select, subsel]);
            var config = driver.ReadConfig(0, 136);
            Assert.Equal(select, config[0]);
            Assert.Equal(subsel, config[1]);
            Assert.All(config.Skip(2), b => Assert.Equal(0, b));
        }
    }

    [Fact]
    public void OnlySelectAndSubselAreWritable()
    {
        var driver = _keyboard.Driver;

        Assert.True(driver.TryWriteConfig(0, [VirtioInputSelect.IdName]));
        Assert.True(driver.TryWriteConfig(1, [0]));
        Assert.False(driver.TryWriteConfig(2, [1]));         // size
        Assert.False(driver.TryWriteConfig(4, [1, 2, 3, 4])); // reserved
        Assert.False(driver.TryWriteConfig(8, [1]));          // payload
        Assert.False(driver.TryWriteConfig(0, [VirtioInputSelect.IdSerial, 0, 0, 0])); // spills past subsel
        Assert.False(driver.TryWriteConfig(135, [1, 2]));     // beyond the config space

        Assert.Equal("Vdi Keyboard", Encoding.ASCII.GetString(driver.ReadConfig(8, driver.ReadConfig(2, 1)[0])));
    }

    [Fact]
    public void ResetClearsTheSelection()
    {
        Keyboard.Select(VirtioInputSelect.IdName);

        _keyboard.Driver.Reset();

        Assert.Equal([0, 0, 0], _keyboard.Driver.ReadConfig(0, 3));
    }
}
