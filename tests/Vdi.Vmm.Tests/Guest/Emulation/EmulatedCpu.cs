using Iced.Intel;
using Vdi.Vmm.Boot;

namespace Vdi.Vmm.Tests.Guest.Emulation;

/// <summary>
/// A deliberately small x86-64 interpreter for the instructions the guest emitters use, so guest programs can be
/// run without /dev/kvm. It models CPL 0 long mode with flat segments and identity paging; it throws
/// <see cref="NotSupportedException"/> on anything else, so a guest using an unmodelled instruction fails loudly.
/// </summary>
internal sealed partial class EmulatedCpu
{
    private const ulong InterruptFlag = 1UL << 9;
    private readonly IEmulatorBus _machine;
    private readonly Dictionary<ulong, Instruction> _decoded = [];
    private readonly SortedSet<byte> _pendingInterrupts = [];
    private readonly SortedSet<byte> _inService = [];
    private bool _interruptShadow;

    public EmulatedCpu(IEmulatorBus machine, int index, int count, ulong entryPoint)
    {
        _machine = machine;
        Index = index;
        Rip = entryPoint;
        Registers[(int)Gpr.Rsp] = GuestLayout.StackTopFor(index);
        Registers[(int)Gpr.Rdi] = (ulong)index;
        Registers[(int)Gpr.Rsi] = (ulong)count;
    }

    public enum Gpr { Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15 }

    public int Index { get; }

    public ulong[] Registers { get; } = new ulong[16];

    public ulong Rip { get; private set; }

    public bool InterruptsEnabled { get; private set; }

    public bool Halted { get; private set; }

    public ulong IdtBase { get; private set; }

    public ushort IdtLimit { get; private set; }

    public long InstructionsRetired { get; private set; }

    /// <summary>Local APIC registers this vCPU wrote (offset → value), and how many EOIs it signalled.</summary>
    public Dictionary<uint, uint> LocalApicWrites { get; } = [];

    public int EndOfInterrupts { get; private set; }

    public bool HasInterruptInService => _inService.Count > 0;

    /// <summary>True when <see cref="Step"/> would make progress.</summary>
    public bool CanRun => !Halted || DeliverableInterrupt() is not null;

    /// <summary>Queues an external interrupt, as the local APIC would on receiving it.</summary>
    public void PostInterrupt(byte vector) => _pendingInterrupts.Add(vector);

    public void Step()
    {
        if (DeliverableInterrupt() is { } vector)
        {
            _pendingInterrupts.Remove(vector);
            if (vector != 0xFF)
                _inService.Add(vector);
            if (GateIsUsable(vector))
                Deliver(vector, errorCode: null);
            else
                RaiseException((ulong)vector * 16 + 15 > IdtLimit ? (byte)13 : (byte)11);
            return;
        }

        if (Halted)
            return;

        _interruptShadow = false;
        var instruction = Decode(Rip);
        Rip = instruction.NextIP;
        InstructionsRetired++;
        if (instruction.Code == Code.INVALID)
        {
            RaiseException(6);
            return;
        }

        Execute(instruction);
    }

    /// <summary>Delivers exception <paramref name="vector"/>, escalating to #GP, #DF and shutdown when gates are missing.</summary>
    public void RaiseException(byte vector)
    {
        ulong? errorCode = vector is 8 or (>= 10 and <= 14) or 17 or 21 ? 0 : null;
        if (GateIsUsable(vector))
        {
            Deliver(vector, errorCode);
            return;
        }

        if (vector == 8)
        {
            _machine.TripleFault();
            return;
        }

        RaiseException(vector == 13 ? (byte)8 : (byte)13);
    }

    /// <summary>The local APIC end-of-interrupt register was written; returns the vector it retired, if any.</summary>
    public byte? EndOfInterrupt()
    {
        EndOfInterrupts++;
        if (_inService.Count == 0)
            return null;
        var vector = _inService.Max;
        _inService.Remove(vector);
        return vector;
    }

    private byte? DeliverableInterrupt()
    {
        if (!InterruptsEnabled || _interruptShadow || _pendingInterrupts.Count == 0)
            return null;
        var vector = _pendingInterrupts.Max;
        // The local APIC holds back a vector whose priority class isn't above the highest one in service.
        if (vector != 0xFF && _inService.Count > 0 && (vector >> 4) <= (_inService.Max >> 4))
            return null;
        return vector;
    }

    private Instruction Decode(ulong rip)
    {
        if (!_decoded.TryGetValue(rip, out var instruction))
        {
            var bytes = _machine.FetchWindow(rip);
            var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes), rip);
            decoder.Decode(out instruction);
            _decoded[rip] = instruction;
        }

        return instruction;
    }

    private bool GateIsUsable(byte vector)
    {
        if ((ulong)vector * 16 + 15 > IdtLimit)
            return false;
        var attributes = _machine.ReadMemory(this, IdtBase + ((ulong)vector * 16) + 5, 1);
        var selector = _machine.ReadMemory(this, IdtBase + ((ulong)vector * 16) + 2, 2);
        return (attributes & 0x80) != 0 && (attributes & 0x0F) is 0xE or 0xF && selector == GuestLayout.CodeSelector;
    }

    private void Deliver(byte vector, ulong? errorCode)
    {
        var gate = IdtBase + ((ulong)vector * 16);
        var handler = _machine.ReadMemory(this, gate, 2)
            | (_machine.ReadMemory(this, gate + 6, 2) << 16)
            | (_machine.ReadMemory(this, gate + 8, 4) << 32);
        var interruptGate = (_machine.ReadMemory(this, gate + 5, 1) & 0x0F) == 0xE;

        var oldRsp = Registers[(int)Gpr.Rsp];
        Registers[(int)Gpr.Rsp] = oldRsp & ~0xFUL;
        Push(GuestLayout.DataSelector);
        Push(oldRsp);
        Push(Rflags);
        Push(GuestLayout.CodeSelector);
        Push(Rip);
        if (errorCode is { } code)
            Push(code);
        if (interruptGate)
            InterruptsEnabled = false;
        Rip = handler;
        Halted = false; // a delivered event resumes a halted vCPU (the tests inject exceptions into idle ones)
    }

    private void Execute(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Mov:
            case Mnemonic.Movzx:
                Write(i, 0, Read(i, 1));
                break;
            case Mnemonic.Lea:
                Write(i, 0, EffectiveAddress(i));
                break;
            case Mnemonic.Push:
                Push(Read(i, 0));
                break;
            case Mnemonic.Pop:
                Write(i, 0, Pop());
                break;
            case Mnemonic.Call:
                Push(Rip);
                Rip = i.NearBranchTarget;
                break;
            case Mnemonic.Ret:
                Rip = Pop();
                break;
            case Mnemonic.Jmp:
                Rip = i.NearBranchTarget;
                break;
            case Mnemonic.Add or Mnemonic.Sub or Mnemonic.Cmp or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test:
                ExecuteArithmetic(i);
                break;
            case Mnemonic.Inc or Mnemonic.Dec:
                ExecuteIncDec(i);
                break;
            case Mnemonic.Shl or Mnemonic.Shr:
                ExecuteShift(i);
                break;
            case Mnemonic.Div:
                ExecuteDivide(i);
                break;
            case Mnemonic.Imul:
                ExecuteMultiply(i);
                break;
            case Mnemonic.Stosb or Mnemonic.Stosd or Mnemonic.Stosq:
                ExecuteStore(i);
                break;
            case Mnemonic.Movsd when i.Code == Code.Movsd_m32_m32:
                ExecuteMove(i);
                break;
            case Mnemonic.Xadd:
                var destination = Read(i, 0);
                var source = Read(i, 1);
                var sum = Add(destination, source, OperandSize(i, 0));
                Write(i, 1, destination);
                Write(i, 0, sum);
                break;
            case Mnemonic.In:
                Write(i, 0, _machine.PortIn(this, (ushort)Read(i, 1), OperandSize(i, 0)));
                break;
            case Mnemonic.Out:
                _machine.PortOut(this, (ushort)Read(i, 0), OperandSize(i, 1), Read(i, 1));
                break;
            case Mnemonic.Pause or Mnemonic.Nop:
                break;
            case Mnemonic.Hlt:
                Halted = true;
                break;
            case Mnemonic.Sti:
                InterruptsEnabled = true;
                _interruptShadow = true;
                break;
            case Mnemonic.Cli:
                InterruptsEnabled = false;
                break;
            case Mnemonic.Lidt:
                var descriptor = EffectiveAddress(i);
                IdtLimit = (ushort)_machine.ReadMemory(this, descriptor, 2);
                IdtBase = _machine.ReadMemory(this, descriptor + 2, 8);
                break;
            case Mnemonic.Iretq:
                Rip = Pop();
                Pop(); // cs
                Rflags = Pop();
                var rsp = Pop();
                Pop(); // ss
                Registers[(int)Gpr.Rsp] = rsp;
                break;
            case Mnemonic.Ud2:
                RaiseException(6);
                break;
            case Mnemonic.Int3:
                RaiseException(3);
                break;
            default:
                if (i.ConditionCode != ConditionCode.None && i.FlowControl == FlowControl.ConditionalBranch)
                {
                    if (ConditionHolds(i.ConditionCode))
                        Rip = i.NearBranchTarget;
                    break;
                }

                if (i.Mnemonic is >= Mnemonic.Cmova and <= Mnemonic.Cmovs && i.ConditionCode != ConditionCode.None)
                {
                    // cmov always writes its 32-bit destination (zero-extending) even when the condition fails.
                    Write(i, 0, ConditionHolds(i.ConditionCode) ? Read(i, 1) : Read(i, 0));
                    break;
                }

                throw new NotSupportedException($"The emulator does not model '{i}' at 0x{i.IP:X}.");
        }
    }
}
