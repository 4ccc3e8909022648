using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Vdi.Vmm.State;

/// <summary>Writes a state stream (<see cref="StateFormat"/>): the header at construction, sections, then <see cref="Finish"/>.</summary>
public sealed class StateWriter
{
    private readonly Stream _stream;
    private readonly HashSet<string> _sections = [];
    private bool _finished;

    public StateWriter(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        Span<byte> header = stackalloc byte[6];
        StateFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], StateFormat.Version);
        _stream.Write(header);
    }

    /// <summary>Writes one section: <paramref name="write"/> adds its fields.</summary>
    public void Section(string name, ushort version, Action<SectionWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        ObjectDisposedException.ThrowIf(_finished, this);
        if (!StateFormat.IsSectionName(name))
            throw new ArgumentException($"'{name}' is not a section name", nameof(name));
        if (!_sections.Add(name))
            throw new ArgumentException($"section '{name}' is written twice", nameof(name));
        if (_sections.Count > StateFormat.MaxSections)
            throw new InvalidOperationException($"more than {StateFormat.MaxSections} sections");
        var fields = new SectionWriter(name);
        write(fields);
        var payload = fields.ToArray();
        Span<byte> head = stackalloc byte[2 + StateFormat.MaxName + 6];
        head[0] = StateFormat.SectionMarker;
        head[1] = (byte)Encoding.ASCII.GetBytes(name, head[2..]);
        var at = 2 + head[1];
        BinaryPrimitives.WriteUInt16LittleEndian(head[at..], version);
        BinaryPrimitives.WriteUInt32LittleEndian(head[(at + 2)..], (uint)payload.Length);
        _stream.Write(head[..(at + 6)]);
        _stream.Write(payload);
    }

    /// <summary>Writes the end marker; nothing may be written after it.</summary>
    public void Finish()
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _stream.WriteByte(StateFormat.EndMarker);
        _finished = true;
    }
}

/// <summary>The fields of one section, in the order written.</summary>
public sealed class SectionWriter
{
    private readonly string _section;
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private readonly HashSet<string> _names = [];

    internal SectionWriter(string section) => _section = section;

    public SectionWriter U64(string name, ulong value) => Fixed(name, StateFieldType.U64, value);

    public SectionWriter I64(string name, long value) => Fixed(name, StateFieldType.I64, unchecked((ulong)value));

    public SectionWriter F64(string name, double value) => Fixed(name, StateFieldType.F64, BitConverter.DoubleToUInt64Bits(value));

    public SectionWriter Bool(string name, bool value)
    {
        Head(name, StateFieldType.Bool);
        _buffer.Write([value ? (byte)1 : (byte)0]);
        return this;
    }

    public SectionWriter Bytes(string name, ReadOnlySpan<byte> value)
    {
        Head(name, StateFieldType.Bytes);
        Length32(value.Length);
        _buffer.Write(value);
        return this;
    }

    public SectionWriter Text(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > ushort.MaxValue)
            throw new ArgumentException($"text field '{name}' of section '{_section}' is longer than {ushort.MaxValue} bytes", nameof(value));
        Head(name, StateFieldType.Text);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)bytes.Length);
        _buffer.Write(length);
        _buffer.Write(bytes);
        return this;
    }

    public SectionWriter U64s(string name, ReadOnlySpan<ulong> values)
    {
        Head(name, StateFieldType.U64Array);
        Length32(values.Length);
        Span<byte> value = stackalloc byte[8];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(value, v);
            _buffer.Write(value);
        }
        return this;
    }

    internal byte[] ToArray()
    {
        if (_buffer.WrittenCount > StateFormat.MaxSectionBytes)
            throw new InvalidOperationException($"section '{_section}' is {_buffer.WrittenCount} bytes, more than {StateFormat.MaxSectionBytes}");
        return _buffer.WrittenSpan.ToArray();
    }

    private SectionWriter Fixed(string name, StateFieldType type, ulong value)
    {
        Head(name, type);
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _buffer.Write(bytes);
        return this;
    }

    private void Head(string name, StateFieldType type)
    {
        if (!StateFormat.IsFieldName(name))
            throw new ArgumentException($"'{name}' is not a field name", nameof(name));
        if (!_names.Add(name))
            throw new ArgumentException($"field '{name}' of section '{_section}' is written twice", nameof(name));
        if (_names.Count > StateFormat.MaxFields)
            throw new InvalidOperationException($"section '{_section}' has more than {StateFormat.MaxFields} fields");
        _buffer.Write([(byte)name.Length]);
        _buffer.Write(Encoding.ASCII.GetBytes(name));
        _buffer.Write([(byte)type]);
    }

    private void Length32(int length)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)length);
        _buffer.Write(bytes);
    }
}
