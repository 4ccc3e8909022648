using System.Buffers.Binary;
using System.Text;

namespace Vdi.Vmm.State;

/// <summary>
/// Reads a state stream (<see cref="StateFormat"/>) whole, checking every length against the stream and the limits
/// before it is trusted; a declared length is read in chunks, so a stream that lies about one costs what it sends.
/// </summary>
public static class StateReader
{
    /// <summary>The most a whole stream may hold, by default.</summary>
    public const long DefaultMaxBytes = 2L << 30;

    public static SavedState Read(Stream stream, long maxBytes = DefaultMaxBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[6];
        Exactly(stream, header, "the header");
        if (!header[..4].SequenceEqual(StateFormat.Magic))
            throw new StateFormatException("not a machine-state stream (no \"VDIS\" at its start)");
        var version = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        if (version != StateFormat.Version)
            throw new StateFormatException($"state format version {version}; this VMM reads version {StateFormat.Version}");
        var sections = new List<SavedSection>();
        var names = new HashSet<string>();
        long total = 6;
        Span<byte> head = stackalloc byte[6];
        while (true)
        {
            var marker = stream.ReadByte();
            if (marker == StateFormat.EndMarker)
                return new SavedState(sections);
            if (marker != StateFormat.SectionMarker)
                throw new StateFormatException(marker < 0 ? "the stream ends before its end marker" : $"0x{marker:X2} where a section or the end should start");
            var name = Name(stream, "a section name", static n => StateFormat.IsSectionName(n));
            Exactly(stream, head, $"section '{name}'");
            var sectionVersion = BinaryPrimitives.ReadUInt16LittleEndian(head);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(head[2..]);
            total += 2 + name.Length + 6 + length;
            if (length > StateFormat.MaxSectionBytes || total > maxBytes)
                throw new StateFormatException($"section '{name}' of {length} bytes is past the limits ({StateFormat.MaxSectionBytes} a section, {maxBytes} a stream)");
            if (!names.Add(name))
                throw new StateFormatException($"section '{name}' appears twice");
            if (sections.Count == StateFormat.MaxSections)
                throw new StateFormatException($"more than {StateFormat.MaxSections} sections");
            sections.Add(new SavedSection(name, sectionVersion, Fields(name, Payload(stream, (int)length, name))));
        }
    }

    private static Dictionary<string, (StateFieldType Type, object Value)> Fields(string section, byte[] payload)
    {
        var fields = new Dictionary<string, (StateFieldType, object)>();
        var at = 0;
        while (at < payload.Length)
        {
            var nameLength = payload[at++];
            if (nameLength is 0 or > StateFormat.MaxName || at + nameLength + 1 > payload.Length)
                throw new StateFormatException($"section '{section}': a field name runs past the section");
            var name = Encoding.ASCII.GetString(payload, at, nameLength);
            if (!StateFormat.IsFieldName(name))
                throw new StateFormatException($"section '{section}': '{name}' is not a field name");
            at += nameLength;
            var type = (StateFieldType)payload[at++];
            var rest = payload.AsSpan(at);
            (object value, int size) = type switch
            {
                StateFieldType.U64 or StateFieldType.I64 or StateFieldType.F64 when rest.Length >= 8 => ((object)BinaryPrimitives.ReadUInt64LittleEndian(rest), 8),
                StateFieldType.Bool when rest.Length >= 1 && rest[0] <= 1 => (rest[0] == 1, 1),
                StateFieldType.Bytes when rest.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(rest) <= (uint)(rest.Length - 4) =>
                    (rest.Slice(4, (int)BinaryPrimitives.ReadUInt32LittleEndian(rest)).ToArray(), 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(rest)),
                StateFieldType.Text when rest.Length >= 2 && BinaryPrimitives.ReadUInt16LittleEndian(rest) <= rest.Length - 2 =>
                    (Text(section, name, rest.Slice(2, BinaryPrimitives.ReadUInt16LittleEndian(rest))), 2 + BinaryPrimitives.ReadUInt16LittleEndian(rest)),
                StateFieldType.U64Array when rest.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(rest) <= (uint)((rest.Length - 4) / 8) =>
                    (U64s(rest.Slice(4, 8 * (int)BinaryPrimitives.ReadUInt32LittleEndian(rest))), 4 + (8 * (int)BinaryPrimitives.ReadUInt32LittleEndian(rest))),
                StateFieldType.U64 or StateFieldType.I64 or StateFieldType.F64 or StateFieldType.Bool or StateFieldType.Bytes or StateFieldType.Text or StateFieldType.U64Array =>
                    throw new StateFormatException($"section '{section}': field '{name}' ({type}) runs past the section or holds a bad value"),
                _ => throw new StateFormatException($"section '{section}': field '{name}' has an unknown type {(byte)type}"),
            };
            if (!fields.TryAdd(name, (type, value)))
                throw new StateFormatException($"section '{section}': field '{name}' appears twice");
            if (fields.Count > StateFormat.MaxFields)
                throw new StateFormatException($"section '{section}' has more than {StateFormat.MaxFields} fields");
            at += size;
        }
        return fields;
    }

    private static string Text(string section, string field, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new StateFormatException($"section '{section}': text field '{field}' is not UTF-8");
        }
    }

    private static ulong[] U64s(ReadOnlySpan<byte> bytes)
    {
        var values = new ulong[bytes.Length / 8];
        for (var i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i * 8)..]);
        return values;
    }

    private static string Name(Stream stream, string what, Func<string, bool> valid)
    {
        var length = stream.ReadByte();
        if (length is <= 0 or > StateFormat.MaxName)
            throw new StateFormatException(length < 0 ? $"the stream ends in {what}" : $"{what} of {length} bytes");
        Span<byte> bytes = stackalloc byte[length];
        Exactly(stream, bytes, what);
        var name = Encoding.ASCII.GetString(bytes);
        return valid(name) ? name : throw new StateFormatException($"'{name}' is not {what}");
    }

    private static byte[] Payload(Stream stream, int length, string section)
    {
        const int Chunk = 1 << 20;
        if (length <= Chunk)
        {
            var small = new byte[length];
            Exactly(stream, small, $"section '{section}'");
            return small;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[Chunk];
        for (var left = length; left > 0; left -= Chunk)
        {
            var n = Math.Min(left, Chunk);
            Exactly(stream, chunk.AsSpan(0, n), $"section '{section}'");
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    private static void Exactly(Stream stream, Span<byte> into, string what)
    {
        try
        {
            stream.ReadExactly(into);
        }
        catch (EndOfStreamException)
        {
            throw new StateFormatException($"the stream ends in {what}");
        }
    }
}
