using System.Runtime.CompilerServices;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// One vCPU of the software execution engine: an x86-64 interpreter over Iced's decoder for the instructions the
/// built-in guests use. It models CPL 0 long mode with flat segments and the VMM's identity paging
/// (<see cref="LongModeSetup"/>); an instruction outside that model raises <see cref="SoftwareEngineException"/>,
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
        if (TryDeliverInterrupt())
            return;
        if (Halted)
            return;
        _interruptShadow = false;
        var block = BlockAt(Rip, previous: null);
        try
        {
            RunBlock(block, limit: 1);
        }
        catch (SoftwareSliceExit)
        {
            UndoInstruction(block);
            throw;
        }
        finally
        {
            ReleaseGuard();
        }
    }

    /// <summary>
    /// Runs whole blocks until at least <paramref name="budget"/> instructions have retired, the vCPU halts with
    /// nothing to deliver, or a block asks to stop early; delivers interrupts between blocks. Returns the instructions
    /// retired. A <see cref="SoftwareSliceExit"/> leaves the vCPU as it was before the instruction that caused it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimised from the first guest instruction: no slow tier-0 phase
    public int Run(int budget)
    {
        var done = 0;
        SoftBlock? previous = null;
        _stopRun = false;
        try
        {
            while (done < budget)
            {
                if (_interrupts.AnyPending && InterruptsEnabled && !_interruptShadow)
                {
                    ReleaseGuard();
                    if (TryDeliverInterrupt())
                    {
                        previous = null;
                        continue;
                    }
                }
                if (Halted || ShouldYield())
                    break;
                _interruptShadow = false;
                var block = BlockAt(Rip, previous);
                ContinueGuard(block);
                int retired;
                try
                {
                    retired = RunBlock(block, block.Ops.Length);
                }
                catch (SoftwareSliceExit)
                {
                    UndoInstruction(block);
                    throw;
                }
                done += retired;
                if (_guardHeld)
                    _guardLeft -= retired;
                previous = block;
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

    /// <summary>Delivers exception <paramref name="vector"/>, escalating to #GP, #DF and shutdown when gates are missing.</summary>
    public void RaiseException(byte vector)
    {
        if (HybridMode)
            throw new SoftwareSliceExit($"exception {vector}"); // KVM runs the instruction again and delivers it
        ulong? errorCode = vector is 8 or (>= 10 and <= 14) or 17 or 21 ? 0 : null;
        if (GateIsUsable(vector))
        {
            Deliver(vector, errorCode);
            return;
        }

        if (vector == 8)
        {
            _bus.TripleFault(this);
            _leaveBlock = true;
            _stopRun = true;
            return;
        }

        RaiseException(vector == 13 ? (byte)8 : (byte)13);
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

    /// <summary>A slice exit interrupted an instruction of <paramref name="block"/> (RIP is still its next IP): undo its start.</summary>
    private void UndoInstruction(SoftBlock block)
    {
        _leaveBlock = false;
        foreach (ref var op in block.Ops.AsSpan())
        {
            if (op.Next == Rip)
            {
                Rip = op.Ip;
                InstructionsRetired--;
                return;
            }
        }
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

    private bool GateIsUsable(byte vector)
    {
        if ((ulong)vector * 16 + 15 > IdtLimit)
            return false;
        var attributes = ReadMem(IdtBase + ((ulong)vector * 16) + 5, 1);
        var selector = ReadMem(IdtBase + ((ulong)vector * 16) + 2, 2);
        return (attributes & 0x80) != 0 && (attributes & 0x0F) is 0xE or 0xF && selector == GuestLayout.CodeSelector;
    }

    /// <summary>Pushes the interrupt frame and enters the handler; registers change only once every access happened.</summary>
    private void Deliver(byte vector, ulong? errorCode)
    {
        var gate = IdtBase + ((ulong)vector * 16);
        var handler = ReadMem(gate, 2) | (ReadMem(gate + 6, 2) << 16) | (ReadMem(gate + 8, 4) << 32);
        var interruptGate = (ReadMem(gate + 5, 1) & 0x0F) == 0xE;

        var oldRsp = _regs[(int)Gpr.Rsp];
        var rsp = oldRsp & ~0xFUL;
        WriteMem(rsp -= 8, 8, GuestLayout.DataSelector);
        WriteMem(rsp -= 8, 8, oldRsp);
        WriteMem(rsp -= 8, 8, Rflags);
        WriteMem(rsp -= 8, 8, GuestLayout.CodeSelector);
        WriteMem(rsp -= 8, 8, Rip);
        if (errorCode is { } code)
            WriteMem(rsp -= 8, 8, code);
        _regs[(int)Gpr.Rsp] = rsp;
        if (interruptGate)
            InterruptsEnabled = false;
        Rip = handler;
        Halted = false; // a delivered event resumes a halted vCPU
        _leaveBlock = true;
    }
}
