namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// A quasi replay's reads (KVM, <see cref="ExecutionJournal.Exact"/> false): the recorder's value for the same read
/// may be at another exit count, so a replay takes the value it most likely stands for, and the host's own when the
/// recorder has none yet (<c>docs/vmm.md</c>, "Quasi-lockstep on KVM").
/// </summary>
public sealed partial class ExecutionJournal
{
    /// <summary>
    /// Under the gate, a quasi replay's read at <paramref name="count"/>: the last value of the kind recorded at or
    /// before it (those before it are the reads this replay did not make, and go), else the next one of the kind
    /// (this replay reads earlier than the recorder did), else none — the replay reads the host's own.
    /// </summary>
    private ulong? TolerantValue(JournalKind kind, long count)
    {
        ulong? value = null;
        while (_values.TryPeek(out var v) && v.Count <= count)
        {
            _values.Dequeue();
            if (v.Kind == kind)
                value = v.A;
        }
        if (value is null && _values.TryPeek(out var next) && next.Kind == kind)
            value = _values.Dequeue().A;
        return value;
    }

    /// <summary>The nearest a quasi replay's own clock may be to a recorded reading for it to take that reading (the same tick's, read a little earlier).</summary>
    private const ulong ClockMatchMilliseconds = 250;

    /// <summary>
    /// Under the gate, a quasi replay's wall-clock read at <paramref name="count"/>, its host's clock reading
    /// <paramref name="own"/> ms. Where the two machines ran alike (a repaint after an input) the recorder read at
    /// this very exit count: that reading. Each machine's timer ticks on its own, though, so the recorder's read for
    /// the same tick may be at another count: then the recorded reading nearest <paramref name="own"/>, when within
    /// <see cref="ClockMatchMilliseconds"/>. Else as any value (<see cref="TolerantValue"/>), else its own. Whatever
    /// is taken goes, with the values before it.
    /// </summary>
    private ulong TolerantClock(long count, ulong own)
    {
        var values = _values.ToArray();
        var best = Array.FindIndex(values, v => v.Kind == JournalKind.WallClock && v.Count == count);
        for (var i = 0; best < 0 && i < values.Length; i++)
        {
            if (values[i].Kind == JournalKind.WallClock && Distance(values[i].A, own) <= ClockMatchMilliseconds)
                best = i;
        }
        for (var i = best + 1; best >= 0 && values[best].Count != count && i < values.Length; i++)
        {
            if (values[i].Kind == JournalKind.WallClock && Distance(values[i].A, own) < Distance(values[best].A, own))
                best = i;
        }
        if (best < 0)
            return TolerantValue(JournalKind.WallClock, count) ?? own;
        for (var i = 0; i <= best; i++)
            _values.Dequeue();
        return values[best].A;
    }

    private static ulong Distance(ulong a, ulong b) => a > b ? a - b : b - a;
}
