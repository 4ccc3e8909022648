using System.Buffers.Binary;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tests.Devices.Virtio;

namespace Vdi.Vmm.Tests.Devices.Gpu;

/// <summary>
/// Plays a guest's virtio-gpu driver against the real device: builds control requests byte by byte
/// as the specification lays them out, and keeps a guest framebuffer in guest RAM.
/// </summary>
internal sealed class GpuGuestDriver : IDisposable
{
    public const ulong RamSize = 64UL << 20;
    public const ulong FramebufferBase = 0x100_0000; // 16 MiB .. 64 MiB for pixels
    public const ulong ScratchBase = 0x1000;

    public GpuGuestDriver(GpuOptions? options = null, DisplayProperties? initial = null)
    {
        Memory = new GuestMemory();
        Memory.AddRam(0, RamSize);
        Gpu = new VirtioGpu(options, initial);
        Iommu = new Vdi.Vmm.Iommu.VirtualIommu(Memory, RamSize);
        Transport = new Vdi.Vmm.Devices.Virtio.VirtioMmioTransport(Gpu, Iommu.CreateIdentityDomain(nameof(VirtioGpu)), Irq);
        Driver = new VirtioTestDriver(Transport, Memory, ScratchBase, FramebufferBase - ScratchBase);
        Display = new DisplayController(Gpu);
        Driver.Initialize(driverFeatures: (1UL << 32) | (1UL << GpuCommands.VIRTIO_GPU_F_EDID), queueSize: 64);
    }

    public GuestMemory Memory { get; }

    public Vdi.Vmm.Iommu.VirtualIommu Iommu { get; }

    public VirtioGpu Gpu { get; }

    public Vdi.Vmm.Devices.Virtio.VirtioMmioTransport Transport { get; }

    public VirtioTestDriver Driver { get; }

    public DisplayController Display { get; }

    public RecordingInterruptLine Irq { get; } = new();

    public static byte[] Header(uint type, uint flags = 0, ulong fence = 0, int size = 24)
    {
        var b = new byte[size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, type);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), fence);
        return b;
    }

    public static byte[] With(byte[] request, params (int Offset, uint Value)[] fields)
    {
        foreach (var (offset, value) in fields)
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(offset), value);
        return request;
    }

    public static uint ResponseType(byte[] response) => BinaryPrimitives.ReadUInt32LittleEndian(response);

    public byte[] Control(byte[] request, int responseSize = 24) => Driver.Request(0, request, responseSize);

    public uint Command(byte[] request) => ResponseType(Control(request));

    public (int Width, int Height, bool Enabled) DisplayInfo()
    {
        var r = Control(Header(GpuCommands.VIRTIO_GPU_CMD_GET_DISPLAY_INFO), 408);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_DISPLAY_INFO, ResponseType(r));
        return ((int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(32)), (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(36)), r[40] == 1);
    }

    public byte[] GetEdid()
    {
        var r = Control(Header(GpuCommands.VIRTIO_GPU_CMD_GET_EDID, size: 32), 1056);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_EDID, ResponseType(r));
        return r.AsSpan(32, (int)BinaryPrimitives.ReadUInt32LittleEndian(r.AsSpan(24))).ToArray();
    }

    public uint Create(uint id, int width, int height, GpuFormat format = GpuFormat.B8G8R8X8) =>
        Command(With(Header(GpuCommands.VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, size: 40), (24, id), (28, (uint)format), (32, (uint)width), (36, (uint)height)));

    public uint Attach(uint id, params (ulong Address, uint Length)[] entries)
    {
        var request = With(Header(GpuCommands.VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, size: 32 + (16 * entries.Length)), (24, id), (28, (uint)entries.Length));
        for (var i = 0; i < entries.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(32 + (16 * i)), entries[i].Address);
            BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(40 + (16 * i)), entries[i].Length);
        }
        return Command(request);
    }

    public uint SetScanout(uint id, int width, int height, int x = 0, int y = 0, uint scanout = 0) =>
        Command(With(Header(GpuCommands.VIRTIO_GPU_CMD_SET_SCANOUT, size: 48), (24, (uint)x), (28, (uint)y), (32, (uint)width), (36, (uint)height), (40, scanout), (44, id)));

    public uint Transfer(uint id, int x, int y, int width, int height, ulong offset)
    {
        var request = With(Header(GpuCommands.VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D, size: 56), (24, (uint)x), (28, (uint)y), (32, (uint)width), (36, (uint)height), (48, id));
        BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(40), offset);
        return Command(request);
    }

    public uint Flush(uint id, int x, int y, int width, int height) =>
        Command(With(Header(GpuCommands.VIRTIO_GPU_CMD_RESOURCE_FLUSH, size: 48), (24, (uint)x), (28, (uint)y), (32, (uint)width), (36, (uint)height), (40, id)));

    public uint Unref(uint id) => Command(With(Header(GpuCommands.VIRTIO_GPU_CMD_RESOURCE_UNREF, size: 32), (24, id)));

    /// <summary>
    /// What a guest does on a display event: reads the mode (unless <paramref name="readMode"/> is false), then a
    /// resource of exactly the mode, filled by <paramref name="pixel"/>, shown and flushed whole.
    /// </summary>
    public void ShowMode(uint id, int width, int height, Func<int, int, uint> pixel, bool readMode = true)
    {
        if (readMode)
            DisplayInfo();
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, Create(id, width, height));
        FillFramebuffer(width, height, pixel);
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, Attach(id, (FramebufferBase, (uint)(width * height * 4))));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, SetScanout(id, width, height));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, Transfer(id, 0, 0, width, height, 0));
        Assert.Equal(GpuCommands.VIRTIO_GPU_RESP_OK_NODATA, Flush(id, 0, 0, width, height));
    }

    /// <summary>Writes a B8G8R8X8 framebuffer (0x00RRGGBB per pixel, little-endian) at <see cref="FramebufferBase"/>.</summary>
    public void FillFramebuffer(int width, int height, Func<int, int, uint> pixel)
    {
        var row = new byte[width * 4];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
                BinaryPrimitives.WriteUInt32LittleEndian(row.AsSpan(x * 4), pixel(x, y));
            Memory.Write(FramebufferBase + (ulong)(y * width * 4), row);
        }
    }

    public void Dispose() => Memory.Dispose();
}
