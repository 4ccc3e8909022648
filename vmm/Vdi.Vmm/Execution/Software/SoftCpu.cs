using System.Runtime.CompilerServices;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// One vCPU of the software execution engine: an x86-64 interpreter over Iced's decoder for the instructions the
/// built-in guests use. It models CPL 0 long mode with flat segments and the guest's own 4-level paging (it starts on
/// the VMM's identity tables, <see cref="LongModeSetup"/>; see <see cref="Walk"/> and <see cref="SoftTlb"/>); an instruction outside that model raises <see cref="SoftwareEngineException"/>,
/// which stops the machine with a report naming the instruction. Interrupts are posted from any thread; everything
/// else runs on the vCPU's own thread. Code runs as blocks of pre-decoded instructions (<see cref="SoftBlock"/>);
/// interrupts are delivered between blocks under <see cref="Run"/> and between instructions under <see cref="Step"/>.
/// </summary>
internal sealed partial class SoftCpu
{
    private const ulong InterruptFlag = 1UL << 9;
    private readonly ISoftBus _bus;
    private readonly ulong[] _regs = new ulong[16];
    private readonly InterruptRequests _interrupts = new();
    private bool _interruptShadow;
    private bool _stopRun; // Run returns after this block (the vCPU triple-faulted)

    public SoftCpu(ISoftBus bus, int index, int count, ulong entryPoint)
    {
        _bus = bus;
        _ram = bus.Ram;
        _memory = _ram?.Memory;
        _guard = bus.Guard;
        _tlb = new SoftTlb();
        _tlbEntries = _tlb.Entries;
        _guard?.Register(this);
        Index = index;
        Rip = entryPoint;
        LocalApic = new SoftLocalApic(this);
        _regs[(int)Gpr.Rsp] = GuestLayout.StackTopFor(index);
        _regs[(int)Gpr.Rdi] = (ulong)index;
        _regs[(int)Gpr.Rsi] = (ulong)count;
    }

    public enum Gpr { Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15 }

    public int Index { get; }

    public ulong[] Registers => _regs;

    public ulong Rip { get; private set; }

    public bool InterruptsEnabled { get; private set; }

    public bool Halted { get; private set; }

    public ulong IdtBase { get; private set; }

    public ushort IdtLimit { get; private set; }

    public long InstructionsRetired { get; private set; }

    /// <summary>Port and device-MMIO accesses: what would have been exits to the VMM under KVM.</summary>
    public long DeviceAccesses { get; internal set; }

    public SoftLocalApic LocalApic { get; }

    /// <summary>Fault tolerance: the journal that records or replays what this vCPU reads of the host's clock; null: none.</summary>
    internal FaultTolerance.ExecutionJournal? Journal { get; set; }

    /// <summary>Local APIC registers this vCPU wrote (offset → value).</summary>
    public IReadOnlyDictionary<uint, uint> LocalApicWrites => LocalApic.Written;

    /// <summary>End-of-interrupt writes this vCPU made.</summary>
    public int EndOfInterrupts => LocalApic.EndOfInterrupts;

    public bool HasInterruptInService => _interrupts.HasInService;

    /// <summary>Raised (on the posting thread) after an interrupt is posted, so a halted vCPU's thread can wake.</summary>
    public event Action? InterruptPosted;

    /// <summary>True when <see cref="Step"/> would make progress.</summary>
    public bool CanRun => !Halted || DeliverableInterrupt(peek: true) is not null;

    /// <summary>Queues an external interrupt, as the local APIC does on receiving it. Any thread.</summary>
    public void PostInterrupt(byte vector)
    {
        _interrupts.Post(vector);
        InterruptPosted?.Invoke();
    }

    /// <summary>
    /// Runs one instruction, or delivers one pending interrupt. A <see cref="SoftwareSliceExit"/> from the bus leaves
    /// the vCPU as it was before the instruction.
    /// </summary>
    public void Step()
    {
        SyncMemoryMap();
        if (TryDeliverInterrupt())
            return;
        if (Halted)
            return;
        _interruptShadow = false;
        try
        {
            SoftBlock block;
            try
            {
                block = BlockAt(Rip, previous: null);
            }
            catch (GuestFault fault)
            {
                DeliverFault(fault); // the fetch faulted: RIP is already the instruction's
                return;
            }
            try
            {
                RunBlock(block, limit: 1);
            }
            catch (SoftwareSliceExit)
            {
                UndoInstruction(block);
                throw;
            }
            catch (GuestFault fault)
            {
                UndoInstruction(block);
                DeliverFault(fault);
            }
        }
        finally
        {
            ReleaseGuard();
        }
    }

    /// <summary>
    /// Runs whole blocks until at least <paramref name="budget"/> instructions have retired, the vCPU halts with
    /// nothing to deliver, or a block asks to stop early; delivers interrupts between blocks. With
    /// <paramref name="stopAt"/> it stops exactly when <see cref="InstructionsRetired"/> reaches it (a replay's next
    /// event), before delivering anything there. Returns the instructions retired. A <see cref="SoftwareSliceExit"/>
    /// leaves the vCPU as it was before the instruction that caused it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimised from the first guest instruction: no slow tier-0 phase
    public int Run(int budget, long stopAt = long.MaxValue)
    {
        var done = 0;
        SoftBlock? previous = null;
        _stopRun = false;
        try
        {
            while (done < budget && InstructionsRetired < stopAt)
            {
                SyncMemoryMap();
                // A yield leaves before delivering: interrupts are only ever delivered inside a run, so a replay that
                // stops at this count to apply an event delivers them after it, as this run will.
                if (ShouldYield())
                    break;
                if (_interrupts.AnyPending && InterruptsEnabled && !_interruptShadow)
                {
                    ReleaseGuard();
                    if (TryDeliverInterrupt())
                    {
                        previous = null;
                        continue;
                    }
                }
                if (Halted)
                    break;
                _interruptShadow = false;
                SoftBlock block;
                try
                {
                    block = BlockAt(Rip, previous);
                }
                catch (GuestFault fault)
                {
                    DeliverFault(fault); // the fetch faulted: RIP is already the instruction's
                    previous = null;
                    if (_stopRun)
                        break;
                    continue;
                }
                ContinueGuard(block);
                int retired;
                var faulted = false;
                try
                {
                    retired = RunBlock(block, (int)Math.Min(block.Ops.Length, stopAt - InstructionsRetired));
                }
                catch (SoftwareSliceExit)
                {
                    UndoInstruction(block);
                    throw;
                }
                catch (GuestFault fault)
                {
                    retired = UndoInstruction(block);
                    DeliverFault(fault);
                    faulted = true;
                }
                done += retired;
                if (_guardHeld)
                    _guardLeft -= retired;
                previous = faulted ? null : block; // after a fault the handler runs: no link to it
                if (_stopRun)
                {
                    _stopRun = false;
                    break;
                }
            }
        }
        finally
        {
            ReleaseGuard();
        }
        return done;
    }

    /// <summary>The registers as the rest of the VMM sees them (hypercalls, crash reports).</summary>
    public VcpuRegisters GetRegisters()
    {
        var r = _regs;
        return new VcpuRegisters(
            r[(int)Gpr.Rax], r[(int)Gpr.Rbx], r[(int)Gpr.Rcx], r[(int)Gpr.Rdx],
            r[(int)Gpr.Rsi], r[(int)Gpr.Rdi], r[(int)Gpr.Rsp], r[(int)Gpr.Rbp],
            r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], Rip, Rflags);
    }

    /// <summary>The local APIC's end-of-interrupt register was written; returns the vector it retired, if any.</summary>
    public byte? EndOfInterrupt() => _interrupts.EndOfInterrupt();

    /// <summary>Runs up to <paramref name="limit"/> instructions of <paramref name="block"/>; returns how many retired.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimised from the first guest instruction: no slow tier-0 phase
    private int RunBlock(SoftBlock block, int limit)
    {
        var ops = block.Ops;
        for (var n = 0; n < limit; n++)
        {
            ref var op = ref ops[n];
            Rip = op.Next;
            InstructionsRetired++;
            Execute(ref op);
            if (_leaveBlock)
            {
                _leaveBlock = false;
                return n + 1;
            }
        }
        return limit;
    }

    /// <summary>
    /// A slice exit or a fault interrupted an instruction of <paramref name="block"/> (RIP is still its next IP): undo
    /// its start. Returns how many of the block's instructions retired before it.
    /// </summary>
    private int UndoInstruction(SoftBlock block)
    {
        _leaveBlock = false;
        var ops = block.Ops;
        for (var n = 0; n < ops.Length; n++)
        {
            if (ops[n].Next == Rip)
            {
                Rip = ops[n].Ip;
                InstructionsRetired--;
                return n;
            }
        }
        return 0;
    }

    private byte? DeliverableInterrupt(bool peek)
    {
        if (HybridMode || !InterruptsEnabled || _interruptShadow || !_interrupts.AnyPending)
            return null;
        return _interrupts.TakeDeliverable(peek);
    }

    /// <summary>Delivers the highest deliverable interrupt, if any; undone (requested again) if the bus exits the slice.</summary>
    private bool TryDeliverInterrupt()
    {
        if (DeliverableInterrupt(peek: false) is not { } vector)
            return false;
        var rip = Rip;
        var rsp = _regs[(int)Gpr.Rsp];
        try
        {
            if (GateIsUsable(vector))
                Deliver(vector, errorCode: null);
            else
                RaiseException((ulong)vector * 16 + 15 > IdtLimit ? (byte)13 : (byte)11);
        }
        catch (GuestFault fault)
        {
            RaiseFault(fault.Vector, fault.ErrorCode, fault.Address); // a page fault reading the IDT or pushing the frame
        }
        catch (SoftwareSliceExit)
        {
            Rip = rip;
            _regs[(int)Gpr.Rsp] = rsp;
            _interrupts.Untake(vector);
            throw;
        }
        _leaveBlock = false;
        return true;
    }
}
