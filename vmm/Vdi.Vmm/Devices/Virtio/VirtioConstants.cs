namespace Vdi.Vmm.Devices.Virtio;

/// <summary>Register offsets, status bits and feature bits of the virtio-mmio transport (virtio 1.x, version 2 only).</summary>
public static class VirtioMmio
{
    public const uint MagicValue = 0x7472_6976; // "virt"
    public const uint Version = 2;
    public const uint VendorId = 0x5644_4900; // "\0IDV"
    public const ulong WindowSize = 0x1000;

    // Register offsets.
    public const int RegMagic = 0x000;
    public const int RegVersion = 0x004;
    public const int RegDeviceId = 0x008;
    public const int RegVendorId = 0x00C;
    public const int RegDeviceFeatures = 0x010;
    public const int RegDeviceFeaturesSel = 0x014;
    public const int RegDriverFeatures = 0x020;
    public const int RegDriverFeaturesSel = 0x024;
    public const int RegQueueSel = 0x030;
    public const int RegQueueNumMax = 0x034;
    public const int RegQueueNum = 0x038;
    public const int RegQueueReady = 0x044;
    public const int RegQueueNotify = 0x050;
    public const int RegInterruptStatus = 0x060;
    public const int RegInterruptAck = 0x064;
    public const int RegStatus = 0x070;
    public const int RegQueueDescLow = 0x080;
    public const int RegQueueDescHigh = 0x084;
    public const int RegQueueDriverLow = 0x090;
    public const int RegQueueDriverHigh = 0x094;
    public const int RegQueueDeviceLow = 0x0A0;
    public const int RegQueueDeviceHigh = 0x0A4;
    public const int RegQueueReset = 0x0C0;
    public const int RegConfigGeneration = 0x0FC;
    public const int RegConfig = 0x100;

    // Device status bits.
    public const uint StatusAcknowledge = 1;
    public const uint StatusDriver = 2;
    public const uint StatusDriverOk = 4;
    public const uint StatusFeaturesOk = 8;
    public const uint StatusDeviceNeedsReset = 64;
    public const uint StatusFailed = 128;

    // InterruptStatus bits.
    public const uint InterruptUsedBuffer = 1;
    public const uint InterruptConfigChange = 2;

    // Transport feature bits.
    public const int FeatureVersion1 = 32;
}

/// <summary>Virtio device type ids.</summary>
public static class VirtioDeviceIds
{
    public const uint Gpu = 16;
    public const uint Input = 18;
}
