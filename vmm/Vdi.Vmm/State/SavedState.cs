namespace Vdi.Vmm.State;

/// <summary>
/// A state stream as read: its sections by name. A restore takes each section it knows (<see cref="Take"/>) and then
/// calls <see cref="EnsureAllTaken"/>, which refuses, by name, any section nobody took — state this VMM would lose.
/// </summary>
public sealed class SavedState
{
    private readonly Dictionary<string, SavedSection> _sections;
    private readonly HashSet<string> _taken = [];

    internal SavedState(IReadOnlyList<SavedSection> sections)
    {
        Sections = sections;
        _sections = sections.ToDictionary(s => s.Name);
    }

    /// <summary>Every section, in stream order.</summary>
    public IReadOnlyList<SavedSection> Sections { get; }

    /// <summary>The section named <paramref name="name"/>, of a version up to <paramref name="maxVersion"/>; it must be there.</summary>
    public SavedSection Take(string name, ushort maxVersion) =>
        TryTake(name, maxVersion) ?? throw new StateFormatException($"the state has no section '{name}'");

    /// <summary>As <see cref="Take"/>, or null when the stream has no such section.</summary>
    public SavedSection? TryTake(string name, ushort maxVersion)
    {
        if (!_sections.TryGetValue(name, out var section))
            return null;
        if (section.Version > maxVersion)
            throw new StateFormatException($"section '{name}' is version {section.Version}; this VMM reads up to version {maxVersion}");
        _taken.Add(name);
        return section;
    }

    public void EnsureAllTaken()
    {
        if (Sections.FirstOrDefault(s => !_taken.Contains(s.Name)) is { } unknown)
            throw new StateFormatException($"unknown section '{unknown.Name}' (version {unknown.Version}): this VMM cannot restore it");
    }
}

/// <summary>
/// One section's fields by name. Each accessor checks the field is there and of its type; <see cref="EnsureAllRead"/>
/// refuses, by name, a field nobody read.
/// </summary>
public sealed class SavedSection
{
    private readonly Dictionary<string, (StateFieldType Type, object Value)> _fields;
    private readonly HashSet<string> _read = [];

    internal SavedSection(string name, ushort version, Dictionary<string, (StateFieldType Type, object Value)> fields)
    {
        Name = name;
        Version = version;
        _fields = fields;
    }

    public string Name { get; }

    public ushort Version { get; }

    public IEnumerable<string> FieldNames => _fields.Keys;

    public bool Has(string field) => _fields.ContainsKey(field);

    /// <summary>The type a field was written with.</summary>
    public StateFieldType TypeOf(string field) =>
        _fields.TryGetValue(field, out var entry) ? entry.Type : throw new StateFormatException($"section '{Name}' has no field '{field}'");

    public ulong U64(string field) => (ulong)Get(field, StateFieldType.U64);

    public long I64(string field) => unchecked((long)(ulong)Get(field, StateFieldType.I64));

    public double F64(string field) => BitConverter.UInt64BitsToDouble((ulong)Get(field, StateFieldType.F64));

    public bool Bool(string field) => (bool)Get(field, StateFieldType.Bool);

    public byte[] Bytes(string field) => (byte[])Get(field, StateFieldType.Bytes);

    public string Text(string field) => (string)Get(field, StateFieldType.Text);

    public ulong[] U64s(string field) => (ulong[])Get(field, StateFieldType.U64Array);

    /// <summary>A U64 field that must lie in [<paramref name="min"/>, <paramref name="max"/>]: hostile values are refused by name.</summary>
    public ulong U64(string field, ulong min, ulong max)
    {
        var value = U64(field);
        return value >= min && value <= max ? value : throw new StateFormatException($"section '{Name}': field '{field}' is {value}, outside [{min}, {max}]");
    }

    /// <summary>A bytes field of exactly <paramref name="length"/> bytes.</summary>
    public byte[] Bytes(string field, int length)
    {
        var value = Bytes(field);
        return value.Length == length ? value : throw new StateFormatException($"section '{Name}': field '{field}' is {value.Length} bytes, not {length}");
    }

    public void EnsureAllRead()
    {
        if (_fields.Keys.FirstOrDefault(f => !_read.Contains(f)) is { } unknown)
            throw new StateFormatException($"section '{Name}': unknown field '{unknown}'");
    }

    private object Get(string field, StateFieldType type)
    {
        if (!_fields.TryGetValue(field, out var entry))
            throw new StateFormatException($"section '{Name}' has no field '{field}'");
        if (entry.Type != type)
            throw new StateFormatException($"section '{Name}': field '{field}' is {entry.Type}, not {type}");
        _read.Add(field);
        return entry.Value;
    }
}
