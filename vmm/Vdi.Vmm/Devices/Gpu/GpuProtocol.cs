using System.Runtime.InteropServices;

namespace Vdi.Vmm.Devices.Gpu;

// virtio-gpu wire structs (virtio 1.x §5.7), little-endian, with the specification's names.
// Tests pin their sizes.

internal static class GpuCommands
{
    public const uint VIRTIO_GPU_CMD_GET_DISPLAY_INFO = 0x0100;
    public const uint VIRTIO_GPU_CMD_RESOURCE_CREATE_2D = 0x0101;
    public const uint VIRTIO_GPU_CMD_RESOURCE_UNREF = 0x0102;
    public const uint VIRTIO_GPU_CMD_SET_SCANOUT = 0x0103;
    public const uint VIRTIO_GPU_CMD_RESOURCE_FLUSH = 0x0104;
    public const uint VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D = 0x0105;
    public const uint VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING = 0x0106;
    public const uint VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING = 0x0107;
    public const uint VIRTIO_GPU_CMD_GET_EDID = 0x010A;
    public const uint VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300;
    public const uint VIRTIO_GPU_CMD_MOVE_CURSOR = 0x0301;

    public const uint VIRTIO_GPU_RESP_OK_NODATA = 0x1100;
    public const uint VIRTIO_GPU_RESP_OK_DISPLAY_INFO = 0x1101;
    public const uint VIRTIO_GPU_RESP_OK_EDID = 0x1104;
    public const uint VIRTIO_GPU_RESP_ERR_UNSPEC = 0x1200;
    public const uint VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY = 0x1201;
    public const uint VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID = 0x1202;
    public const uint VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID = 0x1203;
    public const uint VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER = 0x1205;

    public const uint VIRTIO_GPU_FLAG_FENCE = 1;
    public const int VIRTIO_GPU_F_EDID = 1;
    public const uint VIRTIO_GPU_EVENT_DISPLAY = 1;
    public const int VIRTIO_GPU_MAX_SCANOUTS = 16;
}

/// <summary>virtio-gpu pixel formats (byte order in memory as named).</summary>
public enum GpuFormat : uint
{
    B8G8R8A8 = 1,
    B8G8R8X8 = 2,
    A8R8G8B8 = 3,
    X8R8G8B8 = 4,
    R8G8B8A8 = 67,
    X8B8G8R8 = 68,
    A8B8G8R8 = 121,
    R8G8B8X8 = 134,
}

[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct virtio_gpu_ctrl_hdr
{
    [FieldOffset(0)] public uint type;
    [FieldOffset(4)] public uint flags;
    [FieldOffset(8)] public ulong fence_id;
    [FieldOffset(16)] public uint ctx_id;
    [FieldOffset(20)] public byte ring_idx;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct virtio_gpu_rect
{
    [FieldOffset(0)] public uint x;
    [FieldOffset(4)] public uint y;
    [FieldOffset(8)] public uint width;
    [FieldOffset(12)] public uint height;
}

[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct virtio_gpu_display_one
{
    [FieldOffset(0)] public virtio_gpu_rect r;
    [FieldOffset(16)] public uint enabled;
    [FieldOffset(20)] public uint flags;
}

[StructLayout(LayoutKind.Explicit, Size = 408)]
internal struct virtio_gpu_resp_display_info
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public virtio_gpu_display_one pmode0; // pmodes[16] follow at 24 + 24·i
}

[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct virtio_gpu_get_edid
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public uint scanout;
}

/// <summary>Header of <c>virtio_gpu_resp_edid</c>; 1024 bytes of EDID follow at 32.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct virtio_gpu_resp_edid
{
    public const int Size = 32 + 1024;
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public uint size;
}

[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct virtio_gpu_resource_create_2d
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public uint resource_id;
    [FieldOffset(28)] public uint format;
    [FieldOffset(32)] public uint width;
    [FieldOffset(36)] public uint height;
}

/// <summary>Shared by RESOURCE_UNREF and RESOURCE_DETACH_BACKING (both: header, resource id, padding).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct virtio_gpu_resource_unref
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public uint resource_id;
}

[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct virtio_gpu_set_scanout
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public virtio_gpu_rect r;
    [FieldOffset(40)] public uint scanout_id;
    [FieldOffset(44)] public uint resource_id;
}

[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct virtio_gpu_resource_flush
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public virtio_gpu_rect r;
    [FieldOffset(40)] public uint resource_id;
}

[StructLayout(LayoutKind.Explicit, Size = 56)]
internal struct virtio_gpu_transfer_to_host_2d
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public virtio_gpu_rect r;
    [FieldOffset(40)] public ulong offset;
    [FieldOffset(48)] public uint resource_id;
}

/// <summary>Header of RESOURCE_ATTACH_BACKING; <c>nr_entries</c> × <see cref="virtio_gpu_mem_entry"/> follow.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct virtio_gpu_resource_attach_backing
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public uint resource_id;
    [FieldOffset(28)] public uint nr_entries;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct virtio_gpu_mem_entry
{
    [FieldOffset(0)] public ulong addr;
    [FieldOffset(8)] public uint length;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct virtio_gpu_cursor_pos
{
    [FieldOffset(0)] public uint scanout_id;
    [FieldOffset(4)] public uint x;
    [FieldOffset(8)] public uint y;
}

[StructLayout(LayoutKind.Explicit, Size = 56)]
internal struct virtio_gpu_update_cursor
{
    [FieldOffset(0)] public virtio_gpu_ctrl_hdr hdr;
    [FieldOffset(24)] public virtio_gpu_cursor_pos pos;
    [FieldOffset(40)] public uint resource_id;
    [FieldOffset(44)] public uint hot_x;
    [FieldOffset(48)] public uint hot_y;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct virtio_gpu_config
{
    [FieldOffset(0)] public uint events_read;
    [FieldOffset(4)] public uint events_clear;
    [FieldOffset(8)] public uint num_scanouts;
    [FieldOffset(12)] public uint num_capsets;
}
