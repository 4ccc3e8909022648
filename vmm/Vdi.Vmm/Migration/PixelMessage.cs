using System.Buffers.Binary;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Vmm.Migration;

/// <summary>
/// A <see cref="MigrationMessage.Pixels"/> message: resource id (u32), flags (u32; bit 0: the resource was destroyed,
/// nothing follows), the resource's width and height (u32 each), the chunk's offset (u64), then the chunk —
/// <see cref="VirtioGpu.PixelChunkBytes"/> bytes, fewer for a resource's last. The destination's GPU keeps them in
/// images of its own until its state is restored (<see cref="VirtioGpu.StagePixels"/>); every field is checked there.
/// </summary>
public static class PixelMessage
{
    public const int HeaderBytes = 24;
    public const uint GoneFlag = 1;

    /// <summary>Writes one message's payload into <paramref name="buffer"/>; returns its length.</summary>
    public static int Write(Span<byte> buffer, uint id, uint flags, int width, int height, long offset, ReadOnlySpan<byte> chunk)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, id);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[4..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[8..], (uint)width);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[12..], (uint)height);
        BinaryPrimitives.WriteInt64LittleEndian(buffer[16..], offset);
        chunk.CopyTo(buffer[HeaderBytes..]);
        return HeaderBytes + chunk.Length;
    }

    /// <summary>Hands one message to the destination's GPU; a message that breaks a rule is refused.</summary>
    public static void Apply(ReadOnlySpan<byte> payload, VirtioGpu gpu)
    {
        if (payload.Length < HeaderBytes)
            throw new MigrationException("a Pixels message shorter than its header");
        var id = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[4..]);
        var width = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        var height = BinaryPrimitives.ReadUInt32LittleEndian(payload[12..]);
        var offset = BinaryPrimitives.ReadInt64LittleEndian(payload[16..]);
        var chunk = payload[HeaderBytes..];
        if (id == 0 || flags > GoneFlag)
            throw new MigrationException($"a Pixels message for resource {id} with flags 0x{flags:X}");
        if (flags == GoneFlag)
        {
            if (width != 0 || height != 0 || offset != 0 || !chunk.IsEmpty)
                throw new MigrationException($"a Pixels message destroying resource {id} carries data");
            gpu.DropStagedPixels(id);
            return;
        }
        if (gpu.StagePixels(id, width, height, offset, chunk) is { } refused)
            throw new MigrationException($"a Pixels message for resource {id}: {refused}");
    }
}
