namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// Holds the primary's outputs until the secondary has produced the same ones (<c>docs/vmm.md</c>, "Fault
/// tolerance"): outputs are matched in order, one for one; a match releases the primary's output (<see cref="Released"/>),
/// the first that differs — kind, count, operand or hash — is a mismatch (<see cref="Mismatched"/>), after which nothing
/// more is released until <see cref="Resynchronised"/>. The primary runs ahead; only its outputs wait. A quasi pair
/// (KVM, <see cref="ComparesCounts"/> false) compares what left and in which order, not the count it left at.
/// </summary>
public sealed class OutputComparator
{
    private readonly Lock _gate = new();
    private readonly Queue<GuestOutput> _primary = [];
    private readonly Queue<GuestOutput> _secondary = [];
    private bool _parted;
    private bool _unprotected;

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
            released = [.. _secondary];
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
            released = [.. _primary];
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
            released = [.. _primary.Where(o => o.Count <= count)];
            var (keep, drop) = (_primary.Where(o => o.Count > count).ToList(), _secondary.Where(o => o.Count > count).ToList());
            _primary.Clear();
            _secondary.Clear();
            keep.ForEach(_primary.Enqueue);
            drop.ForEach(_secondary.Enqueue);
            _parted = false;
            _unprotected = false;
            ReleasedCount += released.Count;
        }
        released.ForEach(o => Released?.Invoke(o));
    }

    private void Add(IEnumerable<GuestOutput> outputs, Queue<GuestOutput> side)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var released = new List<GuestOutput>();
        (GuestOutput, GuestOutput)? mismatch = null;
        lock (_gate)
        {
            foreach (var o in outputs)
            {
                if (_unprotected && side == _primary)
                    released.Add(o); // no secondary to wait for
                else
                    side.Enqueue(o);
            }
            while (!_parted && _primary.TryPeek(out var p) && _secondary.TryPeek(out var s))
            {
                if (ComparesCounts ? p != s : (p.Kind, p.A, p.Hash) != (s.Kind, s.A, s.Hash))
                {
                    _parted = true;
                    mismatch = (p, s);
                    break;
                }
                _primary.Dequeue();
                _secondary.Dequeue();
                released.Add(p);
            }
            ReleasedCount += released.Count;
        }
        foreach (var o in released)
            Released?.Invoke(o);
        if (mismatch is var (primary, secondary))
            Mismatched?.Invoke(primary, secondary);
    }
}
