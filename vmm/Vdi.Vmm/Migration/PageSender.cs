using System.Buffers.Binary;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Migration;

/// <summary>Sends pages of guest memory as <see cref="MigrationMessage.Pages"/> messages, an all-zero page as a marker.</summary>
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
