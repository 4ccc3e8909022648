using System.Buffers.Binary;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Migration;

/// <summary>
/// Sends pages of guest memory as <see cref="MigrationMessage.Pages"/> messages, an all-zero page as a marker, and the
/// GPU's resource pixels as <see cref="MigrationMessage.Pixels"/> messages.
/// </summary>
internal sealed class PageSender
{
    private const int EntryBytes = 8 + MigrationWire.PageSize;
    private readonly GuestMemory _memory;
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[MigrationWire.HeaderBytes + 4 + (MigrationWire.MaxPagesPerMessage * EntryBytes)];

    public PageSender(GuestMemory memory, Stream stream)
    {
        _memory = memory;
        _stream = stream;
    }

    public long Pages { get; private set; }

    public long ZeroPages { get; private set; }

    public long Bytes { get; private set; }

    /// <summary>Bytes of GPU resource pixels sent (in <see cref="Bytes"/> too).</summary>
    public long PixelBytes { get; private set; }

    /// <summary>Sends the resources destroyed, then every chunk of <paramref name="harvest"/> that is still its resource's.</summary>
    public async Task SendPixelsAsync(Devices.Gpu.VirtioGpu gpu, Devices.Gpu.PixelHarvest harvest, CancellationToken cancellationToken)
    {
        const int MessageBytes = MigrationWire.HeaderBytes + PixelMessage.HeaderBytes + Devices.Gpu.VirtioGpu.PixelChunkBytes;
        var used = 0;
        foreach (var id in harvest.Gone)
            used = await AppendAsync(used, id, PixelMessage.GoneFlag, 0, 0, 0, 0, cancellationToken).ConfigureAwait(false);
        foreach (var (resource, chunk) in harvest.Chunks)
        {
            if (_buffer.Length - used < MessageBytes)
            {
                await WriteAsync(used, cancellationToken).ConfigureAwait(false);
                used = 0;
            }
            var into = _buffer.AsSpan(used + MigrationWire.HeaderBytes + PixelMessage.HeaderBytes, Devices.Gpu.VirtioGpu.PixelChunkBytes);
            if (!gpu.TryReadPixelChunk(resource, chunk, into, out var length))
                continue; // destroyed since the harvest: the next one says so
            used = await AppendAsync(used, resource.Id, 0, resource.Width, resource.Height, (long)chunk * Devices.Gpu.VirtioGpu.PixelChunkBytes, length, cancellationToken).ConfigureAwait(false);
            PixelBytes += length;
        }
        if (used > 0)
            await WriteAsync(used, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Frames a Pixels message at <paramref name="used"/> whose chunk is already in place; writes the buffer out first when full.</summary>
    private async Task<int> AppendAsync(int used, uint id, uint flags, int width, int height, long offset, int length, CancellationToken cancellationToken)
    {
        var at = used + MigrationWire.HeaderBytes;
        var chunk = _buffer.AsSpan(at + PixelMessage.HeaderBytes, length);
        var payload = PixelMessage.Write(_buffer.AsSpan(at), id, flags, width, height, offset, chunk); // the chunk copies onto itself
        MigrationWire.WriteHeader(_buffer.AsSpan(used), MigrationMessage.Pixels, payload);
        used = at + payload;
        if (_buffer.Length - used < MigrationWire.HeaderBytes + PixelMessage.HeaderBytes)
        {
            await WriteAsync(used, cancellationToken).ConfigureAwait(false);
            return 0;
        }
        return used;
    }

    private async Task WriteAsync(int used, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(_buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
        Bytes += used;
    }

    /// <summary>Sends every page set in <paramref name="bitmap"/>, calling <paramref name="sent"/> after each message.</summary>
    public async Task SendAsync(ulong[] bitmap, Action<long>? sent, CancellationToken cancellationToken)
    {
        var count = 0;
        var used = MigrationWire.HeaderBytes + 4;
        long done = 0;
        for (var w = 0; w < bitmap.Length; w++)
        {
            var word = bitmap[w];
            while (word != 0)
            {
                var bit = System.Numerics.BitOperations.TrailingZeroCount(word);
                word &= word - 1;
                var address = ((ulong)w * 64 + (ulong)bit) << DirtyBitmap.PageShift;
                var page = _buffer.AsSpan(used + 8, MigrationWire.PageSize);
                if (!_memory.TryRead(address, page))
                    throw new MigrationException($"guest page 0x{address:X} is not RAM");
                var zero = !page.ContainsAnyExcept((byte)0);
                BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(used), address | (zero ? MigrationWire.ZeroPageFlag : 0));
                used += zero ? 8 : EntryBytes;
                if (zero)
                    ZeroPages++;
                count++;
                if (count == MigrationWire.MaxPagesPerMessage)
                {
                    await FlushAsync(count, used, cancellationToken).ConfigureAwait(false);
                    done += count;
                    sent?.Invoke(done);
                    count = 0;
                    used = MigrationWire.HeaderBytes + 4;
                }
            }
        }
        if (count > 0)
        {
            await FlushAsync(count, used, cancellationToken).ConfigureAwait(false);
            done += count;
            sent?.Invoke(done);
        }
    }

    private async Task FlushAsync(int count, int used, CancellationToken cancellationToken)
    {
        MigrationWire.WriteHeader(_buffer, MigrationMessage.Pages, used - MigrationWire.HeaderBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(MigrationWire.HeaderBytes), (uint)count);
        await _stream.WriteAsync(_buffer.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
        Pages += count;
        Bytes += used;
    }
}
