namespace Vdi.Vmm.Vcpu;

/// <summary>
/// The pause-all primitive: a requester asks every vCPU thread to park, kicks them out of the
/// guest, and waits until each one is parked (or has finished). vCPU threads call
/// <see cref="Checkpoint"/> between guest entries. Migration, fault tolerance, privileged mode
/// and the concurrency guard all build on this.
/// </summary>
public sealed class PauseRendezvous
{
    private readonly object _gate = new(); // guards every field below; a monitor, for Wait/PulseAll
    private int _active;
    private int _parked;
    private bool _pauseRequested; // _hostPause || _othersPause
    private bool _hostPause;
    private bool _othersPause; // a vCPU stalls the others (the concurrency guard, privileged mode)
    private int _othersOwner = -1; // the vCPU that stalls the others: it keeps running
    private bool _released; // set when the machine stops: nobody parks any more

    public bool PauseRequested => Volatile.Read(ref _pauseRequested);

    /// <summary>True once <see cref="Release"/> ran: the machine is stopping.</summary>
    public bool Released
    {
        get
        {
            lock (_gate)
                return _released;
        }
    }

    /// <summary>A vCPU thread joins before it first enters the guest.</summary>
    public void Join()
    {
        lock (_gate)
            _active++;
    }

    /// <summary>A vCPU thread leaves for good (its vCPU stopped); pause-all stops waiting for it.</summary>
    public void Leave()
    {
        lock (_gate)
        {
            _active--;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Marks a pause as requested; the caller then kicks every vCPU and calls <see cref="WaitAllParked"/>.</summary>
    public void RequestPause()
    {
        lock (_gate)
        {
            _hostPause = true;
            _pauseRequested = true;
        }
    }

    /// <summary>
    /// On a vCPU thread that has joined: asks every other vCPU thread to park, without waiting for itself. False when
    /// a pause is already requested (by the host or another vCPU): the caller then parks at its own checkpoint and
    /// tries again, so two vCPUs asking at once never wait for each other. After true: kick the others, call
    /// <see cref="WaitOthersParked"/>, do the work, then <see cref="ResumeOthers"/>.
    /// </summary>
    public bool TryPauseOthers(int owner)
    {
        lock (_gate)
        {
            if (_released)
                return true; // the machine is stopping: nobody parks any more
            if (_pauseRequested)
                return false;
            _othersPause = true;
            _othersOwner = owner;
            _pauseRequested = true;
            return true;
        }
    }

    /// <summary>Waits until every active vCPU thread but the caller is parked (or the rendezvous is released).</summary>
    public void WaitOthersParked()
    {
        lock (_gate)
        {
            while (_parked < _active - 1 && !_released)
                Monitor.Wait(_gate);
        }
    }

    /// <summary>Ends a <see cref="TryPauseOthers"/> pause; a pause the host requested meanwhile stays in force.</summary>
    public void ResumeOthers()
    {
        lock (_gate)
        {
            _othersPause = false;
            _othersOwner = -1;
            _pauseRequested = _hostPause;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Waits until every active vCPU thread is parked. False on timeout, and false when the rendezvous is released
    /// (the machine stops): its vCPUs are then on their way out, not parked, and nothing may rely on them standing still.
    /// </summary>
    public bool WaitAllParked(TimeSpan timeout)
    {
        var infinite = timeout == Timeout.InfiniteTimeSpan;
        var deadline = Environment.TickCount64 + (infinite ? 0 : (long)timeout.TotalMilliseconds);
        lock (_gate)
        {
            while (_parked < _active && !_released)
            {
                if (infinite)
                {
                    Monitor.Wait(_gate);
                    continue;
                }
                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                    return false;
                Monitor.Wait(_gate, (int)Math.Min(left, int.MaxValue));
            }
            return !_released;
        }
    }

    public int ParkedCount
    {
        get
        {
            lock (_gate)
                return _parked;
        }
    }

    public void Resume()
    {
        lock (_gate)
        {
            _hostPause = false;
            _pauseRequested = _othersPause;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Releases every parked thread for good (the machine is stopping).</summary>
    public void Release()
    {
        lock (_gate)
        {
            _released = true;
            _hostPause = false;
            _othersPause = false;
            _pauseRequested = false;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Called by vCPU <paramref name="vcpu"/>'s thread outside the guest: parks while a pause is requested — by the host,
    /// or by another vCPU (the one stalling the others runs on). Returns true if it parked.
    /// </summary>
    public bool Checkpoint(int vcpu, Action? onParked = null, Action? onResumed = null)
    {
        if (!Volatile.Read(ref _pauseRequested))
            return false;
        lock (_gate)
        {
            if (!MustPark(vcpu))
                return false;
            _parked++;
            onParked?.Invoke();
            Monitor.PulseAll(_gate);
            while (MustPark(vcpu) && !_released)
                Monitor.Wait(_gate);
            _parked--;
            onResumed?.Invoke();
            return true;
        }
    }

    private bool MustPark(int vcpu) => _hostPause || (_othersPause && vcpu != _othersOwner);
}
