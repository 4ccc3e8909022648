using Vdi.Vmm.FaultTolerance;

namespace Vdi.Vmm.Host;

/// <summary>
/// Host → broker, from a fault-tolerant desktop's host (`serve --fault-tolerance`): what its journal holds since the last
/// such frame. A primary (recording) sends its new entries, its outputs and how far it has run with nothing more to
/// record (<see cref="Count"/>, the safe count); a secondary (replaying) sends its outputs and how far it has replayed.
/// Entries are <see cref="JournalEntry.Bytes"/> bytes each, outputs <see cref="OutputBytes"/>; a batch longer than one
/// frame goes as several, only the last carrying the count (the others say 0: no new count).
/// </summary>
public sealed record JournalMessage(long Count, IReadOnlyList<JournalEntry> Entries, IReadOnlyList<GuestOutput> Outputs) : HostMessage
{
    /// <summary>An output on the wire: count (i64), kind (u8), operand (u64), hash (u64).</summary>
    public const int OutputBytes = 25;

    private const int Fixed = 12;

    public override HostMessageType Type => HostMessageType.Journal;

    public static (int Min, int Max) PayloadLimits => (Fixed, HostProtocol.MaxPayload);

    /// <summary>Whether <paramref name="entries"/> entries and <paramref name="outputs"/> outputs fit one frame.</summary>
    public static bool Fits(int entries, int outputs) => Fixed + (entries * JournalEntry.Bytes) + (outputs * OutputBytes) <= HostProtocol.MaxPayload;

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        if (!Fits(Entries.Count, Outputs.Count))
            throw new ArgumentException($"{Entries.Count} entries and {Outputs.Count} outputs do not fit one frame");
        WriteEntries(frame.I64(Count).U16((ushort)Entries.Count).U16((ushort)Outputs.Count), Entries);
        foreach (var o in Outputs)
            frame.I64(o.Count).U8((byte)o.Kind).U64(o.A).U64(o.Hash);
        return frame;
    }

    internal static JournalMessage Read(ref PayloadReader r)
    {
        var count = r.I64();
        var (entries, outputs) = (r.U16(), r.U16());
        if (count < 0 || !Fits(entries, outputs))
            throw new HostProtocolException($"{HostMessageType.Journal}: count {count} with {entries} entries and {outputs} outputs");
        var read = ReadEntries(ref r, entries, HostMessageType.Journal);
        var left = new GuestOutput[outputs];
        for (var i = 0; i < left.Length; i++)
        {
            var (at, kind, a, hash) = (r.I64(), r.U8(), r.U64(), r.U64());
            if (at < 0 || !Enum.IsDefined((OutputKind)kind))
                throw new HostProtocolException($"{HostMessageType.Journal}: an output of kind {kind} at count {at}");
            left[i] = new GuestOutput(at, (OutputKind)kind, a, hash);
        }
        return new JournalMessage(count, read, left);
    }

    /// <summary>Entries on the wire, <see cref="JournalEntry.Bytes"/> each (shared with <see cref="JournalFeedMessage"/>).</summary>
    internal static FrameBuilder WriteEntries(FrameBuilder frame, IReadOnlyList<JournalEntry> entries)
    {
        Span<byte> entry = stackalloc byte[JournalEntry.Bytes];
        foreach (var e in entries)
        {
            e.Write(entry);
            foreach (var b in entry)
                frame.U8(b);
        }
        return frame;
    }

    /// <summary><paramref name="n"/> entries; one that breaks a rule (kind, count) is a protocol error of <paramref name="type"/>.</summary>
    internal static JournalEntry[] ReadEntries(ref PayloadReader r, int n, HostMessageType type)
    {
        var read = new JournalEntry[n];
        Span<byte> entry = stackalloc byte[JournalEntry.Bytes];
        for (var i = 0; i < n; i++)
        {
            for (var b = 0; b < entry.Length; b++)
                entry[b] = r.U8();
            try
            {
                read[i] = JournalEntry.Read(entry);
            }
            catch (JournalException e)
            {
                throw new HostProtocolException($"{type}: {e.Message}");
            }
        }
        return read;
    }

    public bool Equals(JournalMessage? other) =>
        other is not null && Count == other.Count && Entries.SequenceEqual(other.Entries) && Outputs.SequenceEqual(other.Outputs);

    public override int GetHashCode() => HashCode.Combine(Count, Entries.Count, Outputs.Count);
}

/// <summary>
/// Broker → a secondary's host: the primary's next journal entries, in order, and its safe count (the replay runs no
/// further). At most <see cref="MaxEntries"/> a frame.
/// </summary>
public sealed record JournalFeedMessage(long SafeThrough, IReadOnlyList<JournalEntry> Entries) : HostMessage
{
    public const int MaxEntries = (HostProtocol.MaxPayload - 10) / JournalEntry.Bytes;

    public override HostMessageType Type => HostMessageType.JournalFeed;

    public static (int Min, int Max) PayloadLimits => (10, 10 + (MaxEntries * JournalEntry.Bytes));

    protected override FrameBuilder Write(FrameBuilder frame)
    {
        if (Entries.Count > MaxEntries)
            throw new ArgumentException($"{Entries.Count} entries in one feed (at most {MaxEntries})");
        return JournalMessage.WriteEntries(frame.I64(SafeThrough).U16((ushort)Entries.Count), Entries);
    }

    internal static JournalFeedMessage Read(ref PayloadReader r)
    {
        var (safe, n) = (r.I64(), r.U16());
        if (safe < 0 || n > MaxEntries)
            throw new HostProtocolException($"{HostMessageType.JournalFeed}: safe count {safe} with {n} entries");
        return new JournalFeedMessage(safe, JournalMessage.ReadEntries(ref r, n, HostMessageType.JournalFeed));
    }

    public bool Equals(JournalFeedMessage? other) => other is not null && SafeThrough == other.SafeThrough && Entries.SequenceEqual(other.Entries);

    public override int GetHashCode() => HashCode.Combine(SafeThrough, Entries.Count);
}

/// <summary>
/// Broker → a primary's host: checkpoint the machine into a new secondary over the connected stream socket this frame
/// carries (SCM_RIGHTS, as <see cref="MigrateToMessage"/>). The live migration's transfer; on success the primary says
/// <see cref="CheckpointedMessage"/> and resumes instead of staying paused.
/// </summary>
public sealed record CheckpointMessage(uint DowntimeMs, ushort MaxRounds) : HostMessage
{
    public override HostMessageType Type => HostMessageType.Checkpoint;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.U32(DowntimeMs).U16(MaxRounds);

    internal static CheckpointMessage Read(ref PayloadReader r)
    {
        var m = MigrateToMessage.Read(ref r); // the same fields, the same limits
        return new CheckpointMessage(m.DowntimeMs, m.MaxRounds);
    }

    public Migration.MigrationOptions Options => new() { DowntimeTarget = TimeSpan.FromMilliseconds(DowntimeMs), MaxRounds = MaxRounds };
}

/// <summary>
/// Host → broker, in order with its journal frames: the primary was paused at <see cref="Count"/> for a checkpoint
/// the new secondary starts from. Everything it recorded and output up to the count came before this frame; what
/// follows is past it, for the new secondary. Promoted: a secondary that took over at <see cref="Count"/> (failover);
/// its outputs up to the count came before, and from now on it records.
/// </summary>
public sealed record JournalPointMessage(HostMessageType Kind, long Count) : HostMessage
{
    public override HostMessageType Type => Kind;

    protected override FrameBuilder Write(FrameBuilder frame) => frame.I64(Count);

    internal static JournalPointMessage Read(HostMessageType kind, ref PayloadReader r)
    {
        var count = r.I64();
        if (count < 0)
            throw new HostProtocolException($"{kind}: count {count}");
        return new JournalPointMessage(kind, count);
    }
}
