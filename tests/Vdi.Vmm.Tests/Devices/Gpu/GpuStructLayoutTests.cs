using System.Runtime.InteropServices;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Tests.Devices.Gpu;

public sealed class GpuStructLayoutTests
{
    [Theory]
    [InlineData(typeof(virtio_gpu_ctrl_hdr), 24)]
    [InlineData(typeof(virtio_gpu_rect), 16)]
    [InlineData(typeof(virtio_gpu_resp_display_info), 408)]
    [InlineData(typeof(virtio_gpu_get_edid), 32)]
    [InlineData(typeof(virtio_gpu_resource_create_2d), 40)]
    [InlineData(typeof(virtio_gpu_resource_unref), 32)]
    [InlineData(typeof(virtio_gpu_set_scanout), 48)]
    [InlineData(typeof(virtio_gpu_resource_flush), 48)]
    [InlineData(typeof(virtio_gpu_transfer_to_host_2d), 56)]
    [InlineData(typeof(virtio_gpu_resource_attach_backing), 32)]
    [InlineData(typeof(virtio_gpu_mem_entry), 16)]
    [InlineData(typeof(virtio_gpu_update_cursor), 56)]
    [InlineData(typeof(virtio_gpu_config), 16)]
    public void Struct_has_the_specified_size(Type type, int size) => Assert.Equal(size, Marshal.SizeOf(type));

    [Fact]
    public void Key_offsets_match_the_specification()
    {
        Assert.Equal(40, (int)Marshal.OffsetOf<virtio_gpu_set_scanout>(nameof(virtio_gpu_set_scanout.scanout_id)));
        Assert.Equal(44, (int)Marshal.OffsetOf<virtio_gpu_set_scanout>(nameof(virtio_gpu_set_scanout.resource_id)));
        Assert.Equal(40, (int)Marshal.OffsetOf<virtio_gpu_transfer_to_host_2d>(nameof(virtio_gpu_transfer_to_host_2d.offset)));
        Assert.Equal(48, (int)Marshal.OffsetOf<virtio_gpu_transfer_to_host_2d>(nameof(virtio_gpu_transfer_to_host_2d.resource_id)));
        Assert.Equal(40, (int)Marshal.OffsetOf<virtio_gpu_update_cursor>(nameof(virtio_gpu_update_cursor.resource_id)));
        Assert.Equal(20, (int)Marshal.OffsetOf<virtio_gpu_ctrl_hdr>(nameof(virtio_gpu_ctrl_hdr.ring_idx)));
    }
}
