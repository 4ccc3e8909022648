using Vdi.Vmm.Devices.Virtio;
using static Vdi.Vmm.Devices.Gpu.GpuCommands;

namespace Vdi.Vmm.Devices.Gpu;

/// <summary>The cursor queue: UPDATE_CURSOR defines the image (from a resource) and position, MOVE_CURSOR only moves it.</summary>
public sealed partial class VirtioGpu
{
    private const int MaxCursorSize = 256;

    // The cursor as the guest last defined and moved it (state: a restored device shows it again).
    private CursorImage _cursor = new(0, 0, 0, 0, null, GpuFormat.B8G8R8A8);
    private (int X, int Y) _cursorPos;

    private uint HandleCursor(DescriptorChain chain)
    {
        // Cursor commands get no meaningful response; a writable part, if any, receives OK_NODATA.
        if (ReadRequest<virtio_gpu_update_cursor>(chain) is not { } c)
            throw new VirtioException($"cursor request of {chain.ReadableLength} bytes is shorter than virtio_gpu_update_cursor");
        switch (c.hdr.type)
        {
            case VIRTIO_GPU_CMD_UPDATE_CURSOR:
                UpdateCursor(c);
                break;
            case VIRTIO_GPU_CMD_MOVE_CURSOR:
                if (c.pos.scanout_id == 0)
                {
                    _cursorPos = ((int)Math.Min(c.pos.x, int.MaxValue), (int)Math.Min(c.pos.y, int.MaxValue));
                    CursorMoved?.Invoke(_cursorPos.X, _cursorPos.Y);
                }
                else
                    Error(VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, $"MOVE_CURSOR on scanout {c.pos.scanout_id}");
                break;
            default:
                Error(VIRTIO_GPU_RESP_ERR_UNSPEC, $"unknown cursor command 0x{c.hdr.type:X}");
                break;
        }
        return chain.WritableLength >= 24 ? Respond(chain, c.hdr, VIRTIO_GPU_RESP_OK_NODATA) : 0;
    }

    private void UpdateCursor(in virtio_gpu_update_cursor c)
    {
        if (c.resource_id == 0)
        {
            _cursor = new CursorImage(0, 0, 0, 0, null, GpuFormat.B8G8R8A8);
            CursorChanged?.Invoke(_cursor);
            return;
        }
        if (!_resources.TryGetValue(c.resource_id, out var resource) || resource.Width > MaxCursorSize || resource.Height > MaxCursorSize)
        {
            Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"UPDATE_CURSOR with resource {c.resource_id} (unknown or larger than {MaxCursorSize}x{MaxCursorSize})");
            return;
        }
        var hotX = (int)Math.Min(c.hot_x, (uint)resource.Width - 1);
        var hotY = (int)Math.Min(c.hot_y, (uint)resource.Height - 1);
        _cursor = new CursorImage(resource.Width, resource.Height, hotX, hotY, [.. resource.Pixels], resource.Format);
        _cursorPos = ((int)Math.Min(c.pos.x, int.MaxValue), (int)Math.Min(c.pos.y, int.MaxValue));
        CursorChanged?.Invoke(_cursor);
        CursorMoved?.Invoke(_cursorPos.X, _cursorPos.Y);
    }
}
