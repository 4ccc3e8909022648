using System.Diagnostics;

namespace Vdi.Vmm.Tracing;

/// <summary>
/// A machine's trace: the newest <see cref="Capacity"/> trace hits, hypercalls and refused accesses. Bounded (a guest
/// can fill it at exit speed, so the oldest entries give way and are counted in <see cref="Dropped"/>) and cheap (one
/// short lock per entry, no allocation beyond the entry). Readers poll with <see cref="Since"/>: entries are numbered,
/// so a reader asks for those after the last number it saw and learns how many it missed.
/// </summary>
public sealed class TraceRing
{
    public const int DefaultCapacity = 4096;

    private readonly Lock _gate = new();
    private readonly TraceEntry?[] _entries;
    private long _next = 1; // sequence number of the next entry

    public TraceRing(int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _entries = new TraceEntry?[capacity];
    }

    public int Capacity => _entries.Length;

    /// <summary>Sequence number of the newest entry (0: none yet).</summary>
    public long LastSequence
    {
        get
        {
            lock (_gate)
                return _next - 1;
        }
    }

    /// <summary>Entries recorded and then overwritten by newer ones before anyone could read them from the ring.</summary>
    public long Dropped
    {
        get
        {
            lock (_gate)
                return Math.Max(0, _next - 1 - _entries.Length);
        }
    }

    public TraceEntry RecordWrite(TracedWrite write, TraceDecision decision) =>
        Add(sequence => new TraceEntry(sequence, Stopwatch.GetTimestamp(), TraceEntryKind.TracedWrite, write.Vcpu, write.Rip, write, decision));

    public TraceEntry RecordHypercall(int vcpu, ulong rip, uint number, ulong[] arguments, ulong result) =>
        Add(sequence => new TraceEntry(sequence, Stopwatch.GetTimestamp(), TraceEntryKind.Hypercall, vcpu, rip, HypercallNumber: number, Arguments: arguments, Result: result));

    public TraceEntry RecordRefused(int vcpu, ulong? rip, string detail) =>
        Add(sequence => new TraceEntry(sequence, Stopwatch.GetTimestamp(), TraceEntryKind.RefusedAccess, vcpu, rip, Detail: detail));

    /// <summary>Every entry still in the ring, oldest first.</summary>
    public TraceSnapshot Snapshot() => Since(0);

    /// <summary>The entries numbered after <paramref name="sequence"/> still in the ring, oldest first.</summary>
    public TraceSnapshot Since(long sequence)
    {
        lock (_gate)
        {
            var last = _next - 1;
            var first = Math.Max(Math.Max(sequence + 1, 1), _next - _entries.Length);
            var list = new List<TraceEntry>((int)Math.Max(0, last - first + 1));
            for (var s = first; s <= last; s++)
                list.Add(_entries[s % _entries.Length]!);
            var missed = Math.Max(0, first - (sequence + 1));
            return new TraceSnapshot(list, last, missed, Math.Max(0, last - _entries.Length));
        }
    }

    private TraceEntry Add(Func<long, TraceEntry> make)
    {
        lock (_gate)
        {
            var entry = make(_next);
            _entries[_next % _entries.Length] = entry;
            _next++;
            return entry;
        }
    }
}

/// <summary>
/// What a reader got: <see cref="Entries"/> oldest first, <see cref="LastSequence"/> to ask from next time,
/// <see cref="Missed"/> entries after the reader's number that were overwritten before it asked, and the ring's
/// <see cref="Dropped"/> total.
/// </summary>
public sealed record TraceSnapshot(IReadOnlyList<TraceEntry> Entries, long LastSequence, long Missed, long Dropped);
