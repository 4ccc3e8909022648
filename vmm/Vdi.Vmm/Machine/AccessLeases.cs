namespace Vdi.Vmm.Machine;

/// <summary>
/// Reference counts the host's accesses to a machine's guest memory (input injected by a hub thread, a capture by a
/// frame pump), as rust-vmm's <c>GuestMemoryAtomic</c> does: an access runs under a lease, and the memory is unmapped
/// only once every lease is released. After closing begins no new lease is granted, so a late access fails cleanly
/// (the caller sees false) instead of touching unmapped memory.
/// </summary>
public sealed class AccessLeases : IDisposable
{
    private const int ClosedBit = int.MinValue;

    private readonly ManualResetEventSlim _drained = new(false);
    private int _state; // outstanding leases, with ClosedBit set once closing began

    /// <summary>True once <see cref="Close"/> was called: no lease will be granted again.</summary>
    public bool IsClosed => (Volatile.Read(ref _state) & ClosedBit) != 0;

    /// <summary>Leases currently held.</summary>
    public int Outstanding => Volatile.Read(ref _state) & ~ClosedBit;

    /// <summary>Takes a lease, or returns false when closing has begun. Release it with <see cref="Release"/>.</summary>
    public bool TryAcquire()
    {
        var state = Volatile.Read(ref _state);
        while (true)
        {
            if ((state & ClosedBit) != 0)
                return false;
            var seen = Interlocked.CompareExchange(ref _state, state + 1, state);
            if (seen == state)
                return true;
            state = seen;
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _state) == ClosedBit)
            _drained.Set();
    }

    /// <summary>Refuses every lease from now on; those outstanding stay valid until released.</summary>
    public void Close()
    {
        if ((Interlocked.Or(ref _state, ClosedBit) & ~ClosedBit) == 0)
            _drained.Set();
    }

    /// <summary>Closes and waits until every outstanding lease is released; false on timeout (leases still held).</summary>
    public bool CloseAndWait(TimeSpan timeout)
    {
        Close();
        return _drained.Wait(timeout);
    }

    public void Dispose() => _drained.Dispose();
}

/// <summary>One host access to a machine's guest memory; <see cref="Dispose"/> releases it. Default (not held) when refused.</summary>
public readonly struct MachineLease : IDisposable
{
    private readonly AccessLeases? _leases;

    internal MachineLease(AccessLeases leases) => _leases = leases;

    /// <summary>True when the access may go ahead: the machine's memory stays mapped until this lease is disposed.</summary>
    public bool IsHeld => _leases is not null;

    public void Dispose() => _leases?.Release();
}
