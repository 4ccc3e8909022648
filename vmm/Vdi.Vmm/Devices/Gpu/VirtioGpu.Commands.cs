using System.Runtime.InteropServices;
using Vdi.Vmm.Devices.Virtio;
using static Vdi.Vmm.Devices.Gpu.GpuCommands;

namespace Vdi.Vmm.Devices.Gpu;

/// <summary>The control queue: one request per chain, answered in the chain's writable part.</summary>
public sealed partial class VirtioGpu
{
    private uint HandleControl(DescriptorChain chain)
    {
        var hdr = ReadRequest<virtio_gpu_ctrl_hdr>(chain) ?? throw new VirtioException($"control request of {chain.ReadableLength} bytes has no header");
        switch (hdr.type)
        {
            case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
                return RespondDisplayInfo(chain, hdr);
            case VIRTIO_GPU_CMD_GET_EDID:
                return RespondEdid(chain, hdr);
            case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_resource_create_2d>(chain) is { } c ? CreateResource(c) : BadRequest(hdr));
            case VIRTIO_GPU_CMD_RESOURCE_UNREF:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_resource_unref>(chain) is { } u ? Unref(u.resource_id) : BadRequest(hdr));
            case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_resource_attach_backing>(chain) is { } a ? AttachBacking(chain, a) : BadRequest(hdr));
            case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_resource_unref>(chain) is { } d ? DetachBacking(d.resource_id) : BadRequest(hdr));
            case VIRTIO_GPU_CMD_SET_SCANOUT:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_set_scanout>(chain) is { } s ? SetScanout(s) : BadRequest(hdr));
            case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_transfer_to_host_2d>(chain) is { } t ? TransferToHost(t) : BadRequest(hdr));
            case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
                return Respond(chain, hdr, ReadRequest<virtio_gpu_resource_flush>(chain) is { } f ? Flush(f) : BadRequest(hdr));
            default:
                return Respond(chain, hdr, Error(VIRTIO_GPU_RESP_ERR_UNSPEC, $"unknown command 0x{hdr.type:X}"));
        }
    }

    private uint RespondDisplayInfo(DescriptorChain chain, in virtio_gpu_ctrl_hdr request)
    {
        _displaySeen = _displayGeneration;
        var response = new virtio_gpu_resp_display_info
        {
            hdr = ResponseHeader(request, VIRTIO_GPU_RESP_OK_DISPLAY_INFO),
            pmode0 = new virtio_gpu_display_one { r = new virtio_gpu_rect { width = (uint)_display.Width, height = (uint)_display.Height }, enabled = 1 },
        };
        return WriteResponse(chain, MemoryMarshal.AsBytes(new Span<virtio_gpu_resp_display_info>(ref response)));
    }

    private uint RespondEdid(DescriptorChain chain, in virtio_gpu_ctrl_hdr request)
    {
        _displaySeen = _displayGeneration;
        if (_active?.HasFeature(VIRTIO_GPU_F_EDID) != true)
            return Respond(chain, request, Error(VIRTIO_GPU_RESP_ERR_UNSPEC, "GET_EDID without VIRTIO_GPU_F_EDID"));
        if (ReadRequest<virtio_gpu_get_edid>(chain) is not { } get)
            return Respond(chain, request, BadRequest(request));
        if (get.scanout != 0)
            return Respond(chain, request, Error(VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, $"GET_EDID for scanout {get.scanout}"));
        var buffer = new byte[virtio_gpu_resp_edid.Size];
        var header = new virtio_gpu_resp_edid { hdr = ResponseHeader(request, VIRTIO_GPU_RESP_OK_EDID), size = (uint)_edid.Length };
        MemoryMarshal.Write(buffer, in header);
        _edid.CopyTo(buffer.AsSpan(32));
        return WriteResponse(chain, buffer);
    }

    private uint CreateResource(in virtio_gpu_resource_create_2d c)
    {
        if (c.resource_id == 0 || _resources.ContainsKey(c.resource_id))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"CREATE_2D with {(c.resource_id == 0 ? "id 0" : $"existing id {c.resource_id}")}");
        if (!Enum.IsDefined((GpuFormat)c.format))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"CREATE_2D with unknown format {c.format}");
        if (c.width == 0 || c.height == 0 || c.width > (uint)_options.MaxWidth || c.height > (uint)_options.MaxHeight)
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"CREATE_2D of {c.width}x{c.height}, limit {_options.MaxWidth}x{_options.MaxHeight}");
        var bytes = (long)c.width * c.height * 4;
        if (_resourceBytes + bytes > _options.ResourceMemoryLimit)
            return Error(VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY, $"CREATE_2D of {bytes >> 20} MiB over the {_options.ResourceMemoryLimit >> 20} MiB budget ({_resourceBytes >> 20} MiB used)");
        var image = _resourceMemory.Allocate((int)c.width, (int)c.height, (int)bytes);
        var resource = new GpuResource(c.resource_id, (GpuFormat)c.format, (int)c.width, (int)c.height, image);
        _resources[c.resource_id] = resource;
        _resourceBytes += bytes;
        _tracking?.Created(resource);
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    private uint Unref(uint id)
    {
        if (!_resources.Remove(id, out var resource))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"UNREF of unknown resource {id}");
        _resourceBytes -= resource.ByteCount;
        resource.Image.Release();
        _tracking?.Destroyed(id);
        if (_scanout == resource)
        {
            _scanout = null;
            ScanoutChanged?.Invoke(new ScanoutChange(false, 0, 0, 0));
        }
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    private uint AttachBacking(DescriptorChain chain, in virtio_gpu_resource_attach_backing a)
    {
        if (!_resources.TryGetValue(a.resource_id, out var resource))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"ATTACH_BACKING to unknown resource {a.resource_id}");
        if (a.nr_entries == 0 || a.nr_entries > (uint)_options.MaxBackingEntries)
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"ATTACH_BACKING with {a.nr_entries} entries");
        var entrySize = Marshal.SizeOf<virtio_gpu_mem_entry>();
        var raw = new byte[a.nr_entries * entrySize];
        if (chain.Read(Marshal.SizeOf<virtio_gpu_resource_attach_backing>(), raw) != raw.Length)
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"ATTACH_BACKING promises {a.nr_entries} entries, request holds fewer");
        var entries = MemoryMarshal.Cast<byte, virtio_gpu_mem_entry>(raw);
        var backing = new (ulong, uint)[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.length == 0 || e.addr + e.length < e.addr || !_host!.Dma.IsMapped(e.addr, e.length))
                return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"ATTACH_BACKING entry {i} [0x{e.addr:X}, +0x{e.length:X}) is not guest RAM");
            backing[i] = (e.addr, e.length);
        }
        resource.Backing = backing;
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    private uint DetachBacking(uint id)
    {
        if (!_resources.TryGetValue(id, out var resource) || resource.Backing is null)
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"DETACH_BACKING of resource {id} without backing");
        resource.Backing = null;
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    private uint SetScanout(in virtio_gpu_set_scanout s)
    {
        if (s.scanout_id != 0)
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID, $"SET_SCANOUT on scanout {s.scanout_id}");
        if (s.resource_id == 0)
        {
            var wasOn = _scanout is not null;
            _scanout = null;
            if (wasOn)
                ScanoutChanged?.Invoke(new ScanoutChange(false, 0, 0, 0));
            return VIRTIO_GPU_RESP_OK_NODATA;
        }
        if (!_resources.TryGetValue(s.resource_id, out var resource))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"SET_SCANOUT to unknown resource {s.resource_id}");
        if (ToRect(s.r) is not { IsEmpty: false } rect || !resource.Bounds.Contains(rect))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"SET_SCANOUT rectangle {s.r.width}x{s.r.height}+{s.r.x}+{s.r.y} outside resource {resource.Width}x{resource.Height}");
        _scanout = resource;
        _scanoutRect = rect;
        ScanoutChanged?.Invoke(new ScanoutChange(true, rect.Width, rect.Height, resource.Id, _displaySeen));
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    private uint TransferToHost(in virtio_gpu_transfer_to_host_2d t)
    {
        if (!_resources.TryGetValue(t.resource_id, out var resource) || resource.Backing is not { } backing)
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"TRANSFER_TO_HOST_2D of resource {t.resource_id} without backing");
        if (ToRect(t.r) is not { } rect || !resource.Bounds.Contains(rect))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"TRANSFER_TO_HOST_2D rectangle outside resource {resource.Width}x{resource.Height}");
        var rowBytes = rect.Width * 4;
        // A shared image is read by the broker meanwhile: the image is told, so its readers can retry a torn copy.
        resource.Image.BeginWrite();
        try
        {
            var pixels = resource.Pixels;
            for (var row = 0; row < rect.Height; row++)
            {
                // The guest's copy has the resource's stride; offset locates the rectangle's first pixel.
                var source = t.offset + ((ulong)row * (ulong)resource.Stride);
                var destination = pixels.Slice((((rect.Y + row) * resource.Width) + rect.X) * 4, rowBytes);
                if (!ReadBacking(backing, source, destination))
                    return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"TRANSFER_TO_HOST_2D reads past the backing of resource {resource.Id}");
            }
        }
        finally
        {
            resource.Image.EndWrite();
            MarkPixelsWritten(resource, rect.Y, rect.Y + rect.Height - 1); // also when it failed half-way: some rows may have changed
        }
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    private uint Flush(in virtio_gpu_resource_flush f)
    {
        if (!_resources.TryGetValue(f.resource_id, out var resource))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID, $"RESOURCE_FLUSH of unknown resource {f.resource_id}");
        if (ToRect(f.r) is not { } rect || !resource.Bounds.Contains(rect))
            return Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"RESOURCE_FLUSH rectangle outside resource {resource.Width}x{resource.Height}");
        if (_scanout == resource)
        {
            var visible = rect.Intersect(_scanoutRect);
            if (!visible.IsEmpty)
            {
                var flush = new ScanoutFlush(_scanoutRect.Width, _scanoutRect.Height, visible with { X = visible.X - _scanoutRect.X, Y = visible.Y - _scanoutRect.Y });
                Flushed?.Invoke(flush);
                // After the flush's handlers: a host has queued the frame's copy into shared memory before its output can be sent.
                FrameOutput?.Invoke(flush.Damage, HashPixels(resource, visible));
            }
        }
        return VIRTIO_GPU_RESP_OK_NODATA;
    }

    /// <summary>Copies from a scatter list of guest buffers, as if they were one; false when it runs past the end.</summary>
    private bool ReadBacking((ulong Address, uint Length)[] backing, ulong offset, Span<byte> destination)
    {
        foreach (var (address, length) in backing)
        {
            if (destination.IsEmpty)
                return true;
            if (offset >= length)
            {
                offset -= length;
                continue;
            }
            var n = (int)Math.Min(length - offset, (ulong)destination.Length);
            if (!_host!.Dma.TryRead(address + offset, destination[..n]))
                return false;
            destination = destination[n..];
            offset = 0;
        }
        return destination.IsEmpty;
    }

    private static GpuRect? ToRect(in virtio_gpu_rect r) =>
        r.x > int.MaxValue || r.y > int.MaxValue || r.width > int.MaxValue || r.height > int.MaxValue
            ? null
            : new GpuRect((int)r.x, (int)r.y, (int)r.width, (int)r.height);

    private uint BadRequest(in virtio_gpu_ctrl_hdr hdr) => Error(VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER, $"command 0x{hdr.type:X} shorter than its structure");

    private uint Error(uint code, string message)
    {
        Interlocked.Increment(ref _errorResponses);
        LastError = message;
        return code;
    }

    private static T? ReadRequest<T>(DescriptorChain chain)
        where T : unmanaged
    {
        T value = default;
        return chain.Read(0, MemoryMarshal.AsBytes(new Span<T>(ref value))) == Marshal.SizeOf<T>() ? value : null;
    }

    private static virtio_gpu_ctrl_hdr ResponseHeader(in virtio_gpu_ctrl_hdr request, uint type) => new()
    {
        type = type,
        flags = request.flags & VIRTIO_GPU_FLAG_FENCE,
        fence_id = request.fence_id,
        ctx_id = request.ctx_id,
        ring_idx = request.ring_idx,
    };

    private static uint Respond(DescriptorChain chain, in virtio_gpu_ctrl_hdr request, uint type)
    {
        var response = ResponseHeader(request, type);
        return WriteResponse(chain, MemoryMarshal.AsBytes(new Span<virtio_gpu_ctrl_hdr>(ref response)));
    }

    private static uint WriteResponse(DescriptorChain chain, ReadOnlySpan<byte> response)
    {
        if (chain.WritableLength < response.Length)
            throw new VirtioException($"response of {response.Length} bytes does not fit the {chain.WritableLength} writable bytes");
        chain.Write(0, response);
        return (uint)response.Length;
    }
}
