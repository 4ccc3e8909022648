using Iced.Intel;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>One guarded segment: which vCPU ran which locked instruction, where, and on what memory.</summary>
public readonly record struct GuardEvent(int Vcpu, ulong Rip, ulong Address, int Size, Mnemonic Mnemonic, long Timestamp);

/// <summary>
/// The concurrency guard of one machine. The software engine makes each <c>lock</c>ed read-modify-write of RAM a
/// single host atomic; a locked instruction no host atomic can make (its operand straddles a cache line or an 8-byte
/// word, or its target is not plain RAM) is a concurrency-vulnerable segment: the vCPU stalls every other vCPU of the
/// machine through the pause-all rendezvous, runs the instruction (and the locked instructions right after it, for a
/// bounded run), and releases them. Counts both kinds and keeps the most recent guarded segments.
/// </summary>
public sealed class ConcurrencyGuard
{
    /// <summary>How many recent guarded segments <see cref="RecentSegments"/> keeps.</summary>
    public const int TraceCapacity = 64;

    private readonly Lock _traceGate = new();
    private readonly GuardEvent[] _trace = new GuardEvent[TraceCapacity];
    private readonly List<SoftCpu> _cpus = [];
    private long _guardedSegments;
    private int _traceNext;
    private PauseRendezvous? _rendezvous;
    private Action<int>? _kickOthers;
    private Action<int>? _park;

    /// <summary>Guarded segments: times a vCPU stalled the others to run locked instructions no host atomic fits.</summary>
    public long GuardedSegments => Interlocked.Read(ref _guardedSegments);

    /// <summary>Locked instructions that ran inside guarded segments, over every vCPU.</summary>
    public long GuardedInstructions
    {
        get
        {
            lock (_traceGate)
                return _cpus.Sum(c => c.GuardedInstructions);
        }
    }

    /// <summary>Locked instructions made as one host atomic operation, over every vCPU.</summary>
    public long AtomicOperations
    {
        get
        {
            lock (_traceGate)
                return _cpus.Sum(c => c.AtomicOperations);
        }
    }

    /// <summary>The most recent guarded segments, oldest first.</summary>
    public IReadOnlyList<GuardEvent> RecentSegments
    {
        get
        {
            lock (_traceGate)
            {
                var count = (int)Math.Min(_guardedSegments, TraceCapacity);
                var start = _traceNext - count;
                return [.. Enumerable.Range(start, count).Select(n => _trace[((n % TraceCapacity) + TraceCapacity) % TraceCapacity])];
            }
        }
    }

    internal bool IsAttached => _rendezvous is not null;

    /// <summary>
    /// Connects the guard to the machine's vCPU threads: their rendezvous, a kick for all but the requesting vCPU (kicking
    /// itself would only end its own slice early), and a way for vCPU
    /// <c>n</c>'s own thread to park at its checkpoint (shown as paused) when someone else asked for a pause.
    /// </summary>
    internal void Attach(PauseRendezvous rendezvous, Action<int> kickOthers, Action<int> park)
    {
        _kickOthers = kickOthers;
        _park = park;
        _rendezvous = rendezvous;
    }

    internal void Register(SoftCpu cpu)
    {
        lock (_traceGate)
            _cpus.Add(cpu);
    }

    /// <summary>On <paramref name="cpu"/>'s thread: returns once every other vCPU is parked.</summary>
    internal void Enter(SoftCpu cpu, ulong rip, ulong address, int size, Mnemonic mnemonic)
    {
        var rendezvous = _rendezvous!;
        // Someone else (the host or another vCPU) holds a pause: park at our own checkpoint first, then try again.
        while (!rendezvous.TryPauseOthers(cpu.Index))
            _park!(cpu.Index);
        _kickOthers!(cpu.Index);
        rendezvous.WaitOthersParked();
        lock (_traceGate)
        {
            _trace[_traceNext % TraceCapacity] = new GuardEvent(cpu.Index, rip, address, size, mnemonic, System.Diagnostics.Stopwatch.GetTimestamp());
            _traceNext = (_traceNext + 1) % TraceCapacity;
            _guardedSegments++;
        }
    }

    /// <summary>
    /// On vCPU <paramref name="vcpu"/>'s own thread (a hypercall's handler): runs <paramref name="work"/> with every
    /// other vCPU parked, the way a guarded segment runs.
    /// </summary>
    internal void RunWithOthersParked(int vcpu, Action work)
    {
        ParkOthers(vcpu);
        try
        {
            work();
        }
        finally
        {
            ReleaseOthers();
        }
    }

    /// <summary>
    /// On vCPU <paramref name="vcpu"/>'s own thread: returns once every other vCPU is parked, and keeps them parked —
    /// across guest entries of this one — until <see cref="ReleaseOthers"/>. While another vCPU (or the host) holds
    /// them, this one parks at its own checkpoint first and then tries again, so two callers never wait for each other.
    /// Without vCPU threads attached it returns at once.
    /// </summary>
    internal void ParkOthers(int vcpu)
    {
        if (_rendezvous is not { } rendezvous)
            return;
        while (!rendezvous.TryPauseOthers(vcpu))
            _park!(vcpu);
        _kickOthers!(vcpu);
        rendezvous.WaitOthersParked();
    }

    /// <summary>Lets the vCPUs <see cref="ParkOthers"/> parked run again.</summary>
    internal void ReleaseOthers() => _rendezvous?.ResumeOthers();

    /// <summary>Releases the other vCPUs; parks this one at once if the host asked for a pause meanwhile.</summary>
    internal void Exit(SoftCpu cpu)
    {
        _rendezvous!.ResumeOthers();
        _park!(cpu.Index);
    }
}
