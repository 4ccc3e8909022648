namespace Vdi.Vmm.State;

/// <summary>
/// The machine-state format (<c>docs/vmm.md</c>, "Machine state"): one stream for every consumer — snapshots, live
/// migration, fault-tolerance checkpoints, an engine switch. Self-describing, versioned, little-endian:
/// <code>
/// stream  = magic "VDIS" (4) · format version u16 · section* · end (u8 0)
/// section = u8 1 · name (u8 length, 1–64 of [a-z0-9._-]) · version u16 · payload length u32 · field*
/// field   = name (u8 length, 1–64 of [a-z0-9_]) · type u8 · value
/// value   = u64 / i64 (8) · bool (1: 0 or 1) · f64 (8) · bytes (u32 length, the bytes) · text (u16 length, UTF-8) ·
///           u64 array (u32 count, 8 each)
/// </code>
/// Every section and every field is found by name; a reader refuses, by name, a section or field it does not know, a
/// section of a newer version than it reads, a field of another type, a name twice, and anything past the limits.
/// </summary>
public static class StateFormat
{
    public static ReadOnlySpan<byte> Magic => "VDIS"u8;

    public const ushort Version = 1;

    public const int MaxName = 64;

    /// <summary>The largest section payload: the GPU's resources travel in one, up to its 512 MiB budget.</summary>
    public const int MaxSectionBytes = 512 << 20;

    /// <summary>The most sections a stream may hold.</summary>
    public const int MaxSections = 4096;

    /// <summary>The most fields a section may hold.</summary>
    public const int MaxFields = 4096;

    internal const byte EndMarker = 0, SectionMarker = 1;

    internal static bool IsSectionName(ReadOnlySpan<char> name) => IsName(name, allowDots: true);

    internal static bool IsFieldName(ReadOnlySpan<char> name) => IsName(name, allowDots: false);

    private static bool IsName(ReadOnlySpan<char> name, bool allowDots)
    {
        if (name.Length is 0 or > MaxName)
            return false;
        foreach (var c in name)
        {
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '_' || (allowDots && c is '.' or '-')))
                return false;
        }
        return true;
    }
}

/// <summary>The type of a field's value.</summary>
public enum StateFieldType : byte
{
    U64 = 1,
    I64 = 2,
    Bool = 3,
    F64 = 4,
    Bytes = 5,
    Text = 6,
    U64Array = 7,
}

/// <summary>A state stream (or a section of it) that cannot be read or restored; the message names the section and field.</summary>
public sealed class StateFormatException(string message) : Exception(message);
