using Vdi.Vmm.Devices.Gpu;
using static Vdi.Vmm.Devices.Gpu.GpuCommands;

namespace Vdi.Vmm.Tests.Devices.Gpu;

/// <summary>A guest driver sending nonsense gets error responses (or DEVICE_NEEDS_RESET), never a crash, and the device keeps working.</summary>
public sealed class GpuHostileRequestTests
{
    [Fact]
    public void Bogus_resource_ids_get_invalid_resource_id()
    {
        using var g = new GpuGuestDriver();
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Create(0, 64, 64));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.SetScanout(77, 64, 64));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Flush(77, 0, 0, 1, 1));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Transfer(77, 0, 0, 1, 1, 0));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Unref(77));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Attach(77, (GpuGuestDriver.FramebufferBase, 4096)));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(5, 64, 64));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Create(5, 64, 64));
        Assert.Equal(7, g.Gpu.ErrorResponses);
    }

    [Fact]
    public void A_resource_or_scanout_beyond_the_limit_is_refused()
    {
        using var g = new GpuGuestDriver(new GpuOptions { MaxWidth = 1920, MaxHeight = 1080 });
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Create(1, 1921, 1080));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Create(1, 7680, 4320));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Create(1, 0, 10));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 640, 480));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.SetScanout(1, 641, 480));
        Assert.Contains("outside resource 640x480", g.Gpu.LastError, StringComparison.Ordinal);
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.SetScanout(1, 640, 480, x: 1));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, g.SetScanout(1, 640, 480, scanout: 1));
    }

    [Fact]
    public void Resource_memory_is_bounded_per_device()
    {
        using var g = new GpuGuestDriver(new GpuOptions { ResourceMemoryLimit = 8 << 20 });
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 1024, 1024)); // 4 MiB
        Assert.Equal(VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, g.Create(2, 1024, 1025));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(3, 1024, 1024)); // exactly the budget
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Unref(1));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(2, 1024, 1024));
        Assert.Equal(8L << 20, g.Gpu.ResourceBytes);
    }

    [Fact]
    public void Backing_outside_ram_and_transfers_past_the_backing_are_refused()
    {
        using var g = new GpuGuestDriver();
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 64, 64));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Attach(1, (GpuGuestDriver.RamSize - 4096, 8192)));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Attach(1, (ulong.MaxValue - 100, 4096)));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, g.Transfer(1, 0, 0, 64, 64, 0)); // no backing yet
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Attach(1, (GpuGuestDriver.FramebufferBase, 64 * 64 * 4 / 2)));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Transfer(1, 0, 0, 64, 64, 0)); // backing holds half
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Transfer(1, 60, 0, 8, 1, 0)); // rectangle outside
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Transfer(1, 0, 0, 64, 32, 0));
    }

    [Fact]
    public void Backing_split_over_several_guest_buffers_is_gathered_in_order()
    {
        using var g = new GpuGuestDriver();
        g.FillFramebuffer(16, 16, (x, y) => (uint)((y * 16) + x));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 16, 16));
        const ulong fb = GpuGuestDriver.FramebufferBase;
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Attach(1, (fb, 100), (fb + 100, 412), (fb + 512, 512)));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.SetScanout(1, 16, 16));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Transfer(1, 0, 0, 16, 16, 0));
        var shot = g.Gpu.Capture()!;
        Assert.Equal(0xFF00_0000u | 255, shot.ArgbAt(15, 15));
        Assert.Equal(0xFF00_0000u | 25, shot.ArgbAt(9, 1)); // pixel 25 straddles the first two buffers
    }

    [Fact]
    public void Short_or_unknown_requests_get_errors_and_the_device_keeps_working()
    {
        using var g = new GpuGuestDriver();
        Assert.Equal(VIRTIO_GPU_RESP_ERR_UNSPEC, g.Command(GpuGuestDriver.Header(0x0999)));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Command(GpuGuestDriver.Header(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, size: 30)));
        Assert.Equal(VIRTIO_GPU_RESP_OK_NODATA, g.Create(1, 64, 64));
        Assert.Equal(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, g.Command(GpuGuestDriver.With(GpuGuestDriver.Header(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, size: 32), (24, 1), (28, 1000))));
        Assert.Equal((1280, 720, true), g.DisplayInfo());
        Assert.False(g.Driver.NeedsReset);
    }

    [Fact]
    public void A_response_buffer_too_small_puts_the_device_in_needs_reset_and_a_reset_recovers_it()
    {
        using var g = new GpuGuestDriver();
        var request = g.Driver.Alloc(24);
        var response = g.Driver.Alloc(100);
        g.Memory.Write(request, GpuGuestDriver.Header(VIRTIO_GPU_CMD_GET_DISPLAY_INFO));
        g.Driver.Submit(0, (request, 24, false), (response, 100, true));
        g.Driver.Notify(0);
        Assert.True(g.Driver.NeedsReset);
        Assert.Empty(g.Driver.TakeUsed(0));
        Assert.Contains("does not fit", g.Transport.LastError, StringComparison.Ordinal);

        g.Driver.Initialize(driverFeatures: (1UL << 32) | (1UL << VIRTIO_GPU_F_EDID), queueSize: 64);
        Assert.False(g.Driver.NeedsReset);
        Assert.Equal((1280, 720, true), g.DisplayInfo());
    }

    [Fact]
    public void Get_edid_without_the_negotiated_feature_is_an_error()
    {
        using var g = new GpuGuestDriver();
        g.Driver.Initialize(driverFeatures: 1UL << 32, queueSize: 64);
        var response = g.Control(GpuGuestDriver.Header(VIRTIO_GPU_CMD_GET_EDID, size: 32), 1056);
        Assert.Equal(VIRTIO_GPU_RESP_ERR_UNSPEC, GpuGuestDriver.ResponseType(response));
    }
}
