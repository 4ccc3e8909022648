using Iced.Intel;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Guarded runs of <see cref="SoftCpu"/>: a locked instruction no host atomic can make stalls every other vCPU
/// (<see cref="ConcurrencyGuard.Enter"/>) and runs as plain accesses. The stall is held while the following blocks hold
/// locked instructions too, up to <see cref="GuardRunLength"/> instructions, so a loop of such instructions pays one
/// rendezvous per run rather than one per instruction; it is released at the first block without one, when the vCPU
/// halts or takes an interrupt, at the end of <see cref="Run"/> and after each <see cref="Step"/>.
/// </summary>
internal sealed partial class SoftCpu
{
    /// <summary>Most instructions one guarded run lasts before the other vCPUs get to run again.</summary>
    private const int GuardRunLength = 1024;

    private readonly ConcurrencyGuard? _guard;
    private bool _guardHeld;
    private int _guardLeft;

    /// <summary>Locked instructions this vCPU ran with the other vCPUs stalled.</summary>
    public long GuardedInstructions { get; private set; }

    private volatile bool _yieldRequested;

    /// <summary>
    /// Asks <see cref="Run"/> to return at the next block boundary (the vCPU's thread was kicked: a pause, a stall by
    /// another vCPU, or a stop is requested). Any thread.
    /// </summary>
    public void RequestYield() => _yieldRequested = true;

    /// <summary>True when this vCPU's thread was kicked (and it is not the one holding the stall): leave the slice.</summary>
    private bool ShouldYield()
    {
        if (!_yieldRequested || _guardHeld)
            return false;
        _yieldRequested = false;
        return true;
    }

    /// <summary>A locked instruction no host atomic can make: runs as plain accesses with every other vCPU stalled.</summary>
    private void RunGuarded(ref SoftOp op, ulong address)
    {
        if (_guard is null || !_guard.IsAttached)
        {
            lock (_bus.AtomicGate)
                RunPlain(ref op, address);
            return;
        }
        if (!_guardHeld)
        {
            _guard.Enter(this, op.Ip, address, op.Size, op.Instruction.Mnemonic);
            _guardHeld = true;
            _guardLeft = GuardRunLength;
        }
        GuardedInstructions++;
        RunPlain(ref op, address);
    }

    /// <summary>A locked instruction of the generic path (no specialised form): guarded as a whole.</summary>
    private void RunGuarded(in Instruction i)
    {
        var op = new SoftOp { Instruction = i, Ip = i.IP, Handler = OpHandler.Generic };
        var address = i.OpCount > 0 && i.Op0Kind == OpKind.Memory ? EffectiveAddress(i) : 0;
        RunGuarded(ref op, address);
    }

    /// <summary>Before <paramref name="next"/> runs: ends a guarded run unless that block may go on under it.</summary>
    private void ContinueGuard(SoftBlock next)
    {
        if (_guardHeld && (!next.HasLocked || _guardLeft <= 0 || Halted))
            ReleaseGuard();
    }

    private void ReleaseGuard()
    {
        if (!_guardHeld)
            return;
        _guardHeld = false;
        _guard!.Exit(this);
    }
}
