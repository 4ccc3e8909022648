using System.Buffers.Binary;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>What a journal entry records (<c>docs/vmm.md</c>, "Fault tolerance").</summary>
public enum JournalKind : byte
{
    /// <summary>The local APIC timer fired (applied between instructions).</summary>
    Timer = 1,

    /// <summary>A key: A = evdev code, B = action (applied between instructions).</summary>
    Key = 2,

    /// <summary>The tablet (the pointer): A = x, B = y, C = buttons, D = wheel (signed) (applied between instructions).</summary>
    Tablet = 3,

    /// <summary>A display request: A = width, B = height, C = DPI's IEEE bits, D = refresh | width mm &lt;&lt; 16 | height mm &lt;&lt; 40.</summary>
    Display = 4,

    /// <summary>A host request on the power/debug port's mailbox: A = the request (applied between instructions).</summary>
    HostRequest = 5,

    /// <summary>A read of the local APIC timer's current count: A = the value (inside an instruction).</summary>
    ApicCount = 16,

    /// <summary>The wall-clock hypercall's result: A = milliseconds since the Unix epoch (inside an instruction).</summary>
    WallClock = 17,
}

/// <summary>
/// One entry of an execution journal: at <see cref="Count"/> retired instructions, <see cref="Kind"/> with up to four
/// operands. Kinds below 16 are events the vCPU's thread applies between instructions; from 16 on they are values an
/// instruction reads. On the wire: count (i64), kind (u8), then A, B, C, D (u64 each), little-endian — 41 bytes.
/// </summary>
public readonly record struct JournalEntry(long Count, JournalKind Kind, ulong A = 0, ulong B = 0, ulong C = 0, ulong D = 0)
{
    public const int Bytes = 41;

    public bool IsValue => (byte)Kind >= 16;

    public void Write(Span<byte> into)
    {
        BinaryPrimitives.WriteInt64LittleEndian(into, Count);
        into[8] = (byte)Kind;
        BinaryPrimitives.WriteUInt64LittleEndian(into[9..], A);
        BinaryPrimitives.WriteUInt64LittleEndian(into[17..], B);
        BinaryPrimitives.WriteUInt64LittleEndian(into[25..], C);
        BinaryPrimitives.WriteUInt64LittleEndian(into[33..], D);
    }

    /// <summary>Reads an entry; an unknown kind or a negative count is refused with <see cref="JournalException"/>.</summary>
    public static JournalEntry Read(ReadOnlySpan<byte> from)
    {
        if (from.Length < Bytes)
            throw new JournalException($"a journal entry of {from.Length} bytes, not {Bytes}");
        var count = BinaryPrimitives.ReadInt64LittleEndian(from);
        var kind = (JournalKind)from[8];
        if (count < 0 || !Enum.IsDefined(kind))
            throw new JournalException($"a journal entry of kind {from[8]} at count {count}");
        return new JournalEntry(count, kind, BinaryPrimitives.ReadUInt64LittleEndian(from[9..]), BinaryPrimitives.ReadUInt64LittleEndian(from[17..]),
            BinaryPrimitives.ReadUInt64LittleEndian(from[25..]), BinaryPrimitives.ReadUInt64LittleEndian(from[33..]));
    }

    public override string ToString() => $"{Kind} at {Count} ({A}, {B}, {C}, {D})";
}

/// <summary>A journal that cannot be followed: an entry that breaks a rule, or a replay that left the recorded path.</summary>
public sealed class JournalException : Exception
{
    public JournalException(string message)
        : base(message)
    {
    }
}
