using System.Buffers.Binary;
using System.Text;

namespace Vdi.Vmm.Migration;

/// <summary>The kinds of message on a migration stream (<c>docs/vmm.md</c>, "Migration stream").</summary>
public enum MigrationMessage : byte
{
    /// <summary>Source → destination, first: the machine's identity (<see cref="MachineIdentity"/>).</summary>
    Hello = 1,

    /// <summary>Source → destination: up to <see cref="MigrationWire.MaxPagesPerMessage"/> pages, a zero page as a marker.</summary>
    Pages = 2,

    /// <summary>Source → destination: the machine state (vCPUs and devices, the state format), after the last pages.</summary>
    State = 3,

    /// <summary>Destination → source: memory and state are in place; the destination waits for <see cref="Commit"/>.</summary>
    Restored = 4,

    /// <summary>Source → destination: run. From here the source stays paused until <see cref="Running"/> or a broken stream.</summary>
    Commit = 5,

    /// <summary>Destination → source: the destination's vCPUs run the guest.</summary>
    Running = 6,

    /// <summary>Either way: the migration is abandoned, with the reason.</summary>
    Abort = 7,

    /// <summary>A snapshot file's last message, after <see cref="State"/>.</summary>
    End = 8,

    /// <summary>
    /// Source → destination, in pre-copy rounds: a chunk of a GPU resource's pixels, or a resource destroyed
    /// (<see cref="PixelMessage"/>). The state then names the resources it leaves to them.
    /// </summary>
    Pixels = 9,
}

/// <summary>
/// Framing of a migration stream and a snapshot file: each message is an 8-byte header — kind (1 byte), three zero
/// bytes, payload length (u32, little-endian) — and its payload. Every length is checked against the kind's limit
/// before anything is allocated; a stream that breaks a rule is refused with a <see cref="MigrationException"/>.
/// </summary>
public static class MigrationWire
{
    public const int HeaderBytes = 8;
    public const int PageSize = 4096;
    public const int MaxPagesPerMessage = 256;
    public const int MaxReasonBytes = 1024;

    /// <summary>The largest machine state accepted (GPU resources with their pixels are most of it).</summary>
    public const int MaxStateBytes = 1 << 30;

    /// <summary>A page entry's address word: bit 0 set means the page is all zeros and no bytes follow.</summary>
    public const ulong ZeroPageFlag = 1;

    public static int MaxPayload(MigrationMessage kind) => kind switch
    {
        MigrationMessage.Hello => MachineIdentity.MaxBytes,
        MigrationMessage.Pages => 4 + (MaxPagesPerMessage * (8 + PageSize)),
        MigrationMessage.State => MaxStateBytes,
        MigrationMessage.Abort => MaxReasonBytes,
        MigrationMessage.Pixels => PixelMessage.HeaderBytes + Devices.Gpu.VirtioGpu.PixelChunkBytes,
        MigrationMessage.Restored or MigrationMessage.Commit or MigrationMessage.Running or MigrationMessage.End => 0,
        _ => throw new MigrationException($"unknown message kind {(byte)kind} on the migration stream"),
    };

    public static void WriteHeader(Span<byte> header, MigrationMessage kind, int length)
    {
        header[..4].Clear();
        header[0] = (byte)kind;
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], checked((uint)length));
    }

    /// <summary>Writes a message with a small payload (everything but pages and state).</summary>
    public static async Task WriteAsync(Stream stream, MigrationMessage kind, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length > MaxPayload(kind))
            throw new ArgumentException($"a {kind} payload of {payload.Length} bytes is over its limit", nameof(payload));
        var buffer = new byte[HeaderBytes + payload.Length];
        WriteHeader(buffer, kind, payload.Length);
        payload.Span.CopyTo(buffer.AsSpan(HeaderBytes));
        await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public static Task WriteAbortAsync(Stream stream, string reason, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(reason);
        return WriteAsync(stream, MigrationMessage.Abort, bytes.AsMemory(0, Math.Min(bytes.Length, MaxReasonBytes)), cancellationToken);
    }

    /// <summary>Tells the other side why, when the stream still carries it (within a second); a stream that is what failed is left be.</summary>
    public static async Task TryWriteAbortAsync(Stream stream, string reason)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await WriteAbortAsync(stream, reason, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            // The stream is what failed; the other side sees it end.
        }
    }

    /// <summary>Writes the machine state as one <see cref="MigrationMessage.State"/> message, without copying it.</summary>
    public static async Task WriteStateAsync(Stream stream, byte[] state, CancellationToken cancellationToken)
    {
        if (state.Length > MaxStateBytes)
            throw new MigrationException($"the machine state is {state.Length >> 20} MiB, over the stream's limit");
        var header = new byte[HeaderBytes];
        WriteHeader(header, MigrationMessage.State, state.Length);
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(state, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads a header; null at a clean end of stream. The kind and length are checked.</summary>
    public static async Task<(MigrationMessage Kind, int Length)?> ReadHeaderAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[HeaderBytes];
        var read = await ReadAtMostAsync(stream, header, cancellationToken).ConfigureAwait(false);
        if (read == 0)
            return null;
        if (read < HeaderBytes)
            throw new MigrationException("the migration stream ended inside a message header");
        var kind = (MigrationMessage)header[0];
        if (header[1] != 0 || header[2] != 0 || header[3] != 0)
            throw new MigrationException("a migration message header has nonzero reserved bytes");
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
        if (length > (uint)MaxPayload(kind))
            throw new MigrationException($"a {kind} message of {length} bytes is over its limit of {MaxPayload(kind)}");
        return (kind, (int)length);
    }

    /// <summary>Reads a payload of a length already checked, in chunks so a lying length costs only what arrives.</summary>
    public static async Task<byte[]> ReadPayloadAsync(Stream stream, int length, CancellationToken cancellationToken)
    {
        const int chunk = 1 << 20;
        if (length <= chunk)
        {
            var small = new byte[length];
            await ReadExactlyAsync(stream, small, cancellationToken).ConfigureAwait(false);
            return small;
        }
        using var collected = new MemoryStream();
        var buffer = new byte[chunk];
        var left = length;
        while (left > 0)
        {
            var n = Math.Min(left, chunk);
            await ReadExactlyAsync(stream, buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            collected.Write(buffer, 0, n);
            left -= n;
        }
        return collected.ToArray();
    }

    public static async Task ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (await ReadAtMostAsync(stream, buffer, cancellationToken).ConfigureAwait(false) != buffer.Length)
            throw new MigrationException("the migration stream ended inside a message");
    }

    private static async Task<int> ReadAtMostAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    public static string ReadReason(byte[] payload) => Encoding.UTF8.GetString(payload);
}

/// <summary>A migration or snapshot that cannot go on, with why; the machine it was taken from is unchanged.</summary>
public sealed class MigrationException : Exception
{
    public MigrationException(string message)
        : base(message)
    {
    }

    public MigrationException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
