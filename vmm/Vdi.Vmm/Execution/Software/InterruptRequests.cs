namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// A local APIC's interrupt request and in-service registers (IRR, ISR) as 256-bit sets. Posting may come from any
/// thread; taking and retiring happen on the vCPU's thread. The highest pending vector is delivered unless its
/// priority class is not above the highest one in service; vector 0xFF (spurious) never enters service.
/// </summary>
internal sealed class InterruptRequests
{
    private readonly Lock _gate = new();
    private readonly ulong[] _requested = new ulong[4];
    private readonly ulong[] _inService = new ulong[4];
    private volatile bool _anyPending;
    private volatile bool _anyInService;

    public bool AnyPending => _anyPending;

    public bool HasInService => _anyInService;

    public void Post(byte vector)
    {
        lock (_gate)
        {
            _requested[vector >> 6] |= 1UL << (vector & 63);
            _anyPending = true;
        }
    }

    /// <summary>The vector to deliver now, or null; unless <paramref name="peek"/>, it moves from requested to in service.</summary>
    public byte? TakeDeliverable(bool peek)
    {
        lock (_gate)
        {
            if (Highest(_requested) is not { } vector)
                return null;
            if (vector != 0xFF && Highest(_inService) is { } serving && (vector >> 4) <= (serving >> 4))
                return null;
            if (peek)
                return vector;
            _requested[vector >> 6] &= ~(1UL << (vector & 63));
            _anyPending = Highest(_requested) is not null;
            if (vector != 0xFF)
            {
                _inService[vector >> 6] |= 1UL << (vector & 63);
                _anyInService = true;
            }
            return vector;
        }
    }

    /// <summary>Undoes the take of <paramref name="vector"/> whose delivery did not happen: requested again, not in service.</summary>
    public void Untake(byte vector)
    {
        lock (_gate)
        {
            _requested[vector >> 6] |= 1UL << (vector & 63);
            _anyPending = true;
            _inService[vector >> 6] &= ~(1UL << (vector & 63));
            _anyInService = Highest(_inService) is not null;
        }
    }

    /// <summary>Copies of the request and in-service sets (a snapshot).</summary>
    public (ulong[] Requested, ulong[] InService) Export()
    {
        lock (_gate)
            return ((ulong[])_requested.Clone(), (ulong[])_inService.Clone());
    }

    /// <summary>Replaces both sets (a restore).</summary>
    public void Import(ulong[] requested, ulong[] inService)
    {
        lock (_gate)
        {
            requested.AsSpan(0, 4).CopyTo(_requested);
            inService.AsSpan(0, 4).CopyTo(_inService);
            _anyPending = Highest(_requested) is not null;
            _anyInService = Highest(_inService) is not null;
        }
    }

    /// <summary>Retires the highest vector in service (an EOI); returns it, or null when none was.</summary>
    public byte? EndOfInterrupt()
    {
        lock (_gate)
        {
            if (Highest(_inService) is not { } vector)
                return null;
            _inService[vector >> 6] &= ~(1UL << (vector & 63));
            _anyInService = Highest(_inService) is not null;
            return vector;
        }
    }

    private static byte? Highest(ulong[] set)
    {
        for (var word = set.Length - 1; word >= 0; word--)
        {
            if (set[word] != 0)
                return (byte)((word * 64) + 63 - (int)ulong.LeadingZeroCount(set[word]));
        }
        return null;
    }
}
