using System.Buffers.Binary;
using System.Text;

namespace Vdi.Vmm.Host;

/// <summary>The frame types of the host protocol (docs/host-protocol.md). Broker → host below 0x80, host → broker above.</summary>
public enum HostMessageType : byte
{
    Hello = 0x01,
    Start = 0x02,
    Stop = 0x03,
    Pause = 0x04,
    Resume = 0x05,
    DisplayRequest = 0x06,
    Motion = 0x07,
    SetIntegrityLevel = 0x08,
    ReadGuest = 0x09,
    MigrateListen = 0x0A,
    MigrateTo = 0x0B,
    Checkpoint = 0x0C,
    JournalFeed = 0x0D,
    Promote = 0x0E,
    Key = 0x10,
    PointerInput = 0x11,
    TestForbiddenCall = 0x7E,

    Welcome = 0x81,
    ScanoutChanged = 0x82,
    Flushed = 0x83,
    CursorChanged = 0x84,
    CursorMoved = 0x85,
    DisplayShown = 0x86,
    DisplayFailed = 0x87,
    Exited = 0x88,
    SandboxReport = 0x89,
    Counters = 0x8A,
    Started = 0x8B,
    Paused = 0x8C,
    IntegrityStatus = 0x8D,
    IntegrityAlert = 0x8E,
    IntegritySuppressed = 0x8F,
    GuestBytes = 0x90,
    MigrationListening = 0x91,
    MigrationProgress = 0x92,
    MigrationResult = 0x93,
    Journal = 0x94,
    Checkpointed = 0x95,
    Promoted = 0x96,
    Error = 0xFF,
}

/// <summary>The peer broke the protocol: a bad header, an unknown type, a payload of the wrong size or a bad field.</summary>
public sealed class HostProtocolException(string message) : Exception(message);

/// <summary>
/// Frame layout and limits. A frame is an 8-byte header — version (1 byte), type (1), flags (2, zero), payload length
/// (4, little-endian) — and the payload. Every type has a fixed payload size or a maximum; nothing longer than
/// <see cref="MaxPayload"/> is ever read.
/// </summary>
public static class HostProtocol
{
    public const byte Version = 6;
    public const int HeaderSize = 8;
    public const int MaxPayload = 4096;
    public const int MaxText = 1024;

    /// <summary>Error codes carried by <see cref="HostMessageType.Error"/>.</summary>
    public const ushort ErrorMalformed = 1, ErrorUnknownType = 2, ErrorVersion = 3, ErrorState = 4, ErrorRefused = 5;

    /// <summary>The payload sizes a type allows: (min, max); null for a type this side does not know.</summary>
    public static (int Min, int Max)? PayloadLimits(HostMessageType type) => type switch
    {
        HostMessageType.Hello => (4, 4),
        HostMessageType.Start or HostMessageType.Pause or HostMessageType.Resume or HostMessageType.Promote => (0, 0),
        HostMessageType.Stop => (4, 4),
        HostMessageType.DisplayRequest => (36, 36),
        HostMessageType.Motion => (1, 1),
        HostMessageType.SetIntegrityLevel => (1, 1),
        HostMessageType.ReadGuest => (14, 14),
        HostMessageType.MigrateListen => (MigrateListenMessage.TokenLength, MigrateListenMessage.TokenLength),
        HostMessageType.MigrateTo or HostMessageType.Checkpoint => (6, 6),
        HostMessageType.JournalFeed => JournalFeedMessage.PayloadLimits,
        HostMessageType.Key => (3, 3),
        HostMessageType.PointerInput => (16, 16),
        HostMessageType.TestForbiddenCall => (2, 2 + 64),
        HostMessageType.Welcome => (28, 28 + 2 + MaxText),
        HostMessageType.ScanoutChanged => (33, 33),
        HostMessageType.Flushed => (32, 32),
        HostMessageType.CursorChanged => (29, 29),
        HostMessageType.CursorMoved => (8, 8),
        HostMessageType.DisplayShown => (32, 32),
        HostMessageType.DisplayFailed => (7, 7 + MaxText),
        HostMessageType.Exited => (7, 7 + MaxText),
        HostMessageType.SandboxReport => (3, 3 + MaxText),
        HostMessageType.Counters => (32, 32),
        HostMessageType.Started or HostMessageType.Paused => (0, 0),
        HostMessageType.IntegrityStatus => IntegrityStatusMessage.PayloadLimits,
        HostMessageType.IntegrityAlert => IntegrityAlertMessage.PayloadLimits,
        HostMessageType.IntegritySuppressed => (8, 8),
        HostMessageType.GuestBytes => GuestBytesMessage.PayloadLimits,
        HostMessageType.MigrationListening => (2, 2),
        HostMessageType.MigrationProgress => (69, 69),
        HostMessageType.MigrationResult => (71, 71 + MaxText),
        HostMessageType.Journal => JournalMessage.PayloadLimits,
        HostMessageType.Checkpointed or HostMessageType.Promoted => (8, 8),
        HostMessageType.Error => (4, 4 + MaxText),
        _ => null,
    };

    /// <summary>Checks a header; returns the type and payload length or throws naming what is wrong.</summary>
    public static (HostMessageType Type, int Length) ParseHeader(ReadOnlySpan<byte> header)
    {
        if (header.Length < HeaderSize)
            throw new HostProtocolException($"truncated header ({header.Length} of {HeaderSize} bytes)");
        if (header[0] != Version)
            throw new HostProtocolException($"frame version {header[0]}, expected {Version}");
        var type = (HostMessageType)header[1];
        var flags = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (flags != 0)
            throw new HostProtocolException($"frame type 0x{header[1]:X2} with flags 0x{flags:X4}, expected 0");
        if (PayloadLimits(type) is not { } limits)
            throw new HostProtocolException($"unknown frame type 0x{header[1]:X2}");
        if (length > MaxPayload || length < limits.Min || length > limits.Max)
            throw new HostProtocolException($"{type} frame of {length} payload bytes (allowed {limits.Min}–{limits.Max})");
        return (type, (int)length);
    }
}

/// <summary>Builds one frame: header, then little-endian fields; <see cref="ToArray"/> fills in the length.</summary>
public sealed class FrameBuilder
{
    private readonly byte[] _buffer = new byte[HostProtocol.HeaderSize + HostProtocol.MaxPayload];
    private int _length = HostProtocol.HeaderSize;

    public FrameBuilder(HostMessageType type)
    {
        _buffer[0] = HostProtocol.Version;
        _buffer[1] = (byte)type;
    }

    public FrameBuilder U8(byte value)
    {
        _buffer[_length++] = value;
        return this;
    }

    public FrameBuilder U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_length), value);
        _length += 2;
        return this;
    }

    public FrameBuilder I32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
        return this;
    }

    public FrameBuilder U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
        return this;
    }

    public FrameBuilder I64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
        return this;
    }

    public FrameBuilder U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
        return this;
    }

    /// <summary>Bytes with a 2-byte length, cut at <paramref name="max"/>.</summary>
    public FrameBuilder Bytes(ReadOnlySpan<byte> value, int max)
    {
        var n = Math.Min(value.Length, max);
        U16((ushort)n);
        value[..n].CopyTo(_buffer.AsSpan(_length));
        _length += n;
        return this;
    }

    public FrameBuilder F64(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
        return this;
    }

    /// <summary>A UTF-8 string with a 2-byte length, cut at <paramref name="max"/> bytes.</summary>
    public FrameBuilder Text(string value, int max = HostProtocol.MaxText)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var n = Math.Min(bytes.Length, max);
        U16((ushort)n);
        bytes.AsSpan(0, n).CopyTo(_buffer.AsSpan(_length));
        _length += n;
        return this;
    }

    public byte[] ToArray()
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(4), (uint)(_length - HostProtocol.HeaderSize));
        return _buffer.AsSpan(0, _length).ToArray();
    }
}

/// <summary>Reads a payload's fields; reading past its end or leaving bytes unread is a protocol error.</summary>
public ref struct PayloadReader(HostMessageType type, ReadOnlySpan<byte> payload)
{
    private readonly ReadOnlySpan<byte> _payload = payload;
    private int _offset;

    private ReadOnlySpan<byte> Take(int n)
    {
        if (_offset + n > _payload.Length)
            throw new HostProtocolException($"{type} payload truncated at byte {_offset}");
        var span = _payload.Slice(_offset, n);
        _offset += n;
        return span;
    }

    public byte U8() => Take(1)[0];

    public bool Bool() => U8() switch
    {
        0 => false,
        1 => true,
        var b => throw new HostProtocolException($"{type}: boolean field {b}, expected 0 or 1"),
    };

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    /// <summary>Bytes with a 2-byte length of at most <paramref name="max"/>.</summary>
    public byte[] Bytes(int max)
    {
        var n = U16();
        if (n > max)
            throw new HostProtocolException($"{type}: {n} bytes in a field of at most {max}");
        return Take(n).ToArray();
    }

    public string Text(int max = HostProtocol.MaxText)
    {
        var n = U16();
        if (n > max)
            throw new HostProtocolException($"{type}: text of {n} bytes (at most {max})");
        var bytes = Take(n);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new HostProtocolException($"{type}: text is not UTF-8");
        }
    }

    public readonly void End()
    {
        if (_offset != _payload.Length)
            throw new HostProtocolException($"{type}: {_payload.Length - _offset} bytes after the last field");
    }
}
