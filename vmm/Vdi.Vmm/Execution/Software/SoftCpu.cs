using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// One vCPU of the software execution engine: an x86-64 interpreter over Iced's decoder for the instructions the
/// built-in guests use. It models CPL 0 long mode with flat segments and the VMM's identity paging
/// (<see cref="LongModeSetup"/>); an instruction outside that model raises <see cref="SoftwareEngineException"/>,
/// which stops the machine with a report naming the instruction. Interrupts are posted from any thread; everything
/// else runs on the vCPU's own thread.
/// </summary>
internal sealed partial class SoftCpu
{
    private const ulong InterruptFlag = 1UL << 9;
    private readonly ISoftBus _bus;
    private readonly Dictionary<ulong, Instruction> _decoded = [];
    private readonly byte[] _fetchWindow = new byte[15];
    private readonly InterruptRequests _interrupts = new();
    private long _codeVersion;
    private bool _interruptShadow;

    public SoftCpu(ISoftBus bus, int index, int count, ulong entryPoint)
    {
        _bus = bus;
        Index = index;
        Rip = entryPoint;
        LocalApic = new SoftLocalApic(this);
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

    /// <summary>Runs one instruction, or delivers one pending interrupt.</summary>
    public void Step()
    {
        if (DeliverableInterrupt(peek: false) is { } vector)
        {
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

        try
        {
            Execute(instruction);
        }
        catch (SoftwareSliceExit)
        {
            // The bus refused the access before any side effect: the instruction did not happen here.
            Rip = instruction.IP;
            InstructionsRetired--;
            throw;
        }
    }

    /// <summary>The registers as the rest of the VMM sees them (hypercalls, crash reports).</summary>
    public VcpuRegisters GetRegisters()
    {
        var r = Registers;
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
            return;
        }

        RaiseException(vector == 13 ? (byte)8 : (byte)13);
    }

    /// <summary>The local APIC's end-of-interrupt register was written; returns the vector it retired, if any.</summary>
    public byte? EndOfInterrupt() => _interrupts.EndOfInterrupt();

    private byte? DeliverableInterrupt(bool peek)
    {
        if (HybridMode || !InterruptsEnabled || _interruptShadow || !_interrupts.AnyPending)
            return null;
        return _interrupts.TakeDeliverable(peek);
    }

    private Instruction Decode(ulong rip)
    {
        var version = _bus.CodeVersion;
        if (version != _codeVersion)
        {
            _decoded.Clear();
            _codeVersion = version;
        }
        if (_decoded.TryGetValue(rip, out var instruction))
            return instruction;

        var length = _bus.Fetch(rip, _fetchWindow);
        if (length == 0)
            throw new SoftwareEngineException($"instruction fetch from 0x{rip:X}, outside RAM");
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(_fetchWindow, 0, length), rip);
        decoder.Decode(out instruction);
        _bus.NoteCodePage(rip);
        if (((rip + (ulong)instruction.Length - 1) ^ rip) >= 0x1000)
            _bus.NoteCodePage(rip + (ulong)instruction.Length - 1);
        _decoded[rip] = instruction;
        return instruction;
    }

    private bool GateIsUsable(byte vector)
    {
        if ((ulong)vector * 16 + 15 > IdtLimit)
            return false;
        var attributes = _bus.ReadMemory(this, IdtBase + ((ulong)vector * 16) + 5, 1);
        var selector = _bus.ReadMemory(this, IdtBase + ((ulong)vector * 16) + 2, 2);
        return (attributes & 0x80) != 0 && (attributes & 0x0F) is 0xE or 0xF && selector == GuestLayout.CodeSelector;
    }

    private void Deliver(byte vector, ulong? errorCode)
    {
        var gate = IdtBase + ((ulong)vector * 16);
        var handler = _bus.ReadMemory(this, gate, 2)
            | (_bus.ReadMemory(this, gate + 6, 2) << 16)
            | (_bus.ReadMemory(this, gate + 8, 4) << 32);
        var interruptGate = (_bus.ReadMemory(this, gate + 5, 1) & 0x0F) == 0xE;

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
        Halted = false; // a delivered event resumes a halted vCPU
    }
}
