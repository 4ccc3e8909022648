namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// Holds the primary's outputs until the secondary has produced the same ones (<c>docs/vmm.md</c>, "Fault
/// tolerance"): outputs are matched in order, one for one; a match releases the primary's output (<see cref="Released"/>),
/// the first that differs — kind, count, operand or hash — is a mismatch (<see cref="Mismatched"/>), after which nothing
/// more is released until <see cref="Resynchronised"/>. The primary runs ahead; only its outputs wait.
/// A quasi pair (KVM, <see cref="ComparesCounts"/> false) runs each machine's timer on its own, so what the timer
/// draws (the top bar's clock) may come before an input's frame on one side and after it on the other: there a
/// secondary output matches the first held primary output with the same kind, rectangle or byte, and hash, wherever it
/// is in the queue (serial bytes only in their order), each matched primary output is released, and the pair parts
/// when an output has found no twin for <see cref="QuasiPatience"/> while the other side went on (a side busy with a
/// long repaint produces nothing meanwhile, and is waited for), or for five times that in any case.
/// </summary>
public sealed class OutputComparator
{
    private readonly Lock _gate = new();
    private readonly List<Waiting> _primary = [];
    private readonly List<Waiting> _secondary = [];
    private bool _parted;
    private bool _unprotected;
    private long _lastPrimary, _lastSecondary; // when each side's last output came

    /// <summary>A primary output the secondary has produced too: it may leave now. Raised in order, under no lock of the caller's.</summary>
    public event Action<GuestOutput>? Released;

    /// <summary>The first pair that differs: the primary's output and the secondary's.</summary>
    public event Action<GuestOutput, GuestOutput>? Mismatched;

    public long ReleasedCount { get; private set; }

    /// <summary>
    /// True (the software engine, whose counts are exact): two outputs match only at the same count. False for a quasi
    /// pair on KVM, whose counts are exits and may differ while the outputs are the same.
    /// </summary>
    public bool ComparesCounts { get; set; } = true;

    /// <summary>How long an output of a quasi pair waits for its twin before they are taken to have parted (default 2 s: two of the clock's ticks).</summary>
    public TimeSpan QuasiPatience { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The clock the patience is measured with (tests give their own).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>An output held, and when it came (the quasi pair's patience counts from there).</summary>
    private readonly record struct Waiting(GuestOutput Output, long At);

    /// <summary>Primary outputs waiting for the secondary's.</summary>
    public int Held
    {
        get
        {
            lock (_gate)
                return _primary.Count;
        }
    }

    /// <summary>True once a pair differed, until the secondary is resynchronised.</summary>
    public bool Parted
    {
        get
        {
            lock (_gate)
                return _parted;
        }
    }

    /// <summary>True after a failover until the next resync: the primary's outputs leave at once, compared with nothing.</summary>
    public bool Unprotected
    {
        get
        {
            lock (_gate)
                return _unprotected;
        }
    }

    public void AddPrimary(IEnumerable<GuestOutput> outputs) => Add(outputs, _primary);

    /// <summary>
    /// The primary died and the secondary took its place: the dead primary's held outputs never leave (the secondary,
    /// now primary, makes its own), the secondary's outputs not yet matched leave now — the primary had released
    /// nothing of them — and until the next resync the new primary's outputs leave as they come.
    /// </summary>
    public void FailedOver()
    {
        List<GuestOutput> released;
        lock (_gate)
        {
            released = [.. _secondary.Select(w => w.Output)];
            _secondary.Clear();
            _primary.Clear();
            _parted = false;
            _unprotected = true;
            ReleasedCount += released.Count;
        }
        released.ForEach(o => Released?.Invoke(o));
    }

    public void AddSecondary(IEnumerable<GuestOutput> outputs) => Add(outputs, _secondary);

    /// <summary>
    /// No secondary follows (none made yet, or it was lost): the primary's held outputs leave now — it is the machine kept
    /// — and until the next <see cref="Resynchronised"/> its outputs leave as they come.
    /// </summary>
    public void Unprotect()
    {
        List<GuestOutput> released;
        lock (_gate)
        {
            released = [.. _primary.Select(w => w.Output)];
            _primary.Clear();
            _secondary.Clear();
            _parted = false;
            _unprotected = true;
            ReleasedCount += released.Count;
        }
        released.ForEach(o => Released?.Invoke(o));
    }

    /// <summary>
    /// The secondary now starts from the primary's state at <paramref name="count"/> (a resync): outputs of either
    /// side before it are dropped — the primary's held ones go out, since its state is the one kept — and matching goes on.
    /// </summary>
    public void Resynchronised(long count)
    {
        List<GuestOutput> released;
        lock (_gate)
        {
            released = [.. _primary.Where(w => w.Output.Count <= count).Select(w => w.Output)];
            _primary.RemoveAll(w => w.Output.Count <= count);
            _secondary.RemoveAll(w => w.Output.Count <= count);
            _parted = false;
            _unprotected = false;
            ReleasedCount += released.Count;
        }
        released.ForEach(o => Released?.Invoke(o));
    }

    /// <summary>
    /// A quasi pair: parts it when an output has waited past <see cref="QuasiPatience"/> without its twin (looked at
    /// as outputs come, and by the pair's pump or heartbeat, so a side that went quiet is noticed too). Nothing for an
    /// exact pair, whose outputs part only on arrival.
    /// </summary>
    public void CheckOverdue()
    {
        if (!ComparesCounts)
            Add([], _primary);
    }

    private void Add(IEnumerable<GuestOutput> outputs, List<Waiting> side)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var released = new List<GuestOutput>();
        (GuestOutput, GuestOutput)? mismatch = null;
        var now = Time.GetTimestamp();
        lock (_gate)
        {
            foreach (var o in outputs)
            {
                if (side == _primary)
                    _lastPrimary = now;
                else
                    _lastSecondary = now;
                if (_unprotected && side == _primary)
                    released.Add(o); // no secondary to wait for
                else
                    side.Add(new Waiting(o, now));
            }
            if (!_parted)
                mismatch = ComparesCounts ? MatchInOrder(released) : MatchQuasi(released, now);
            _parted |= mismatch is not null;
            ReleasedCount += released.Count;
        }
        foreach (var o in released)
            Released?.Invoke(o);
        if (mismatch is var (primary, secondary))
            Mismatched?.Invoke(primary, secondary);
    }

    /// <summary>Under the gate: one for one, in order, counts included; the first pair that differs is returned.</summary>
    private (GuestOutput, GuestOutput)? MatchInOrder(List<GuestOutput> released)
    {
        var matched = 0;
        for (; matched < _primary.Count && matched < _secondary.Count; matched++)
        {
            var (p, s) = (_primary[matched].Output, _secondary[matched].Output);
            if (p != s)
            {
                _primary.RemoveRange(0, matched);
                _secondary.RemoveRange(0, matched);
                return (p, s);
            }
            released.Add(p);
        }
        _primary.RemoveRange(0, matched);
        _secondary.RemoveRange(0, matched);
        return null;
    }

    /// <summary>
    /// Under the gate, a quasi pair: each secondary output, in order, takes the first primary output with the same
    /// content (a serial byte: the first serial byte held on each side only), which is released. An output left waiting
    /// past the patience while the other side produced something after it came is returned as the parting, with the
    /// other side's oldest held output (default when it has none).
    /// </summary>
    private (GuestOutput, GuestOutput)? MatchQuasi(List<GuestOutput> released, long now)
    {
        for (var i = 0; i < _secondary.Count;)
        {
            var s = _secondary[i].Output;
            int j;
            if (s.Kind == OutputKind.Serial)
                j = i == FirstSerial(_secondary) && FirstSerial(_primary) is var k and >= 0 && Same(_primary[k].Output, s) ? k : -1;
            else
                j = _primary.FindIndex(w => Same(w.Output, s));
            if (j < 0)
            {
                i++;
                continue;
            }
            released.Add(_primary[j].Output);
            _primary.RemoveAt(j);
            _secondary.RemoveAt(i);
        }
        var patience = (long)(QuasiPatience.TotalSeconds * Time.TimestampFrequency);
        var (p0, s0) = (_primary.Count > 0 ? _primary[0] : (Waiting?)null, _secondary.Count > 0 ? _secondary[0] : (Waiting?)null);
        // Past the patience while the other side went on; or five times it whatever the other side did (it is stuck).
        if (p0 is { } p && now - p.At > patience && (_lastSecondary > p.At || now - p.At > 5 * patience))
            return (p.Output, s0?.Output ?? default);
        if (s0 is { } w && now - w.At > patience && (_lastPrimary > w.At || now - w.At > 5 * patience))
            return (p0?.Output ?? default, w.Output);
        return null;
    }

    private static int FirstSerial(List<Waiting> side) => side.FindIndex(w => w.Output.Kind == OutputKind.Serial);

    private static bool Same(GuestOutput a, GuestOutput b) => (a.Kind, a.A, a.Hash) == (b.Kind, b.A, b.Hash);
}
