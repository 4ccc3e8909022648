using System.Buffers.Binary;
using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest;

/// <summary>
/// The guest's interrupt descriptor table and its handlers. The IDT is image data whose gates are filled in after
/// assembly (they hold handler addresses), so it is ready before any vCPU runs; every vCPU just loads it.
/// Gates: vectors 0–31 (exceptions) print <c>exception &lt;vector&gt;\n</c> and power off with exit code 0x80 + vector;
/// <see cref="HostRequestVector"/> sets <see cref="HostRequestPending"/> and EOIs; <see cref="SpuriousVector"/> just
/// returns. Every other gate is not present, so a stray vector raises #NP and is reported as exception 11.
/// The IDT is exactly one page of its own (page aligned), so it can be write-protected without anything the guest
/// writes sharing its page.
/// </summary>
internal sealed class InterruptEmitter
{
    /// <summary>
    /// Above every device and timer vector (the local APIC delivers the highest priority class first): a guest that is
    /// always behind — a timer and a GPU interrupt pending whenever it opens its interrupt window for a moment, as on an
    /// engine that emulates every instruction — still hears the host's power-off and motion requests, which are rare.
    /// </summary>
    public const byte HostRequestVector = 0x50;
    public const byte SpuriousVector = 0xFF;
    public const int ExceptionCount = 32;
    public const int ExceptionExitCodeBase = 0x80;
    public const int GateSize = 16;
    public const int IdtSize = 256 * GateSize;
    public const byte InterruptGateAttributes = 0x8E; // present, DPL 0, 64-bit interrupt gate (clears IF)

    private readonly GuestAssembly _g;
    private readonly SerialEmitter _serial;
    private readonly Label _idt;
    private readonly Label _idtr;
    private readonly Label[] _exceptionStubs = new Label[ExceptionCount];
    private readonly List<(byte Vector, Label Handler)> _extraGates = [];
    private Label _exceptionCommon;
    private Label _spuriousHandler;
    private Label _hostRequestHandler;
    private bool _emitted;

    public InterruptEmitter(GuestAssembly g, SerialEmitter serial)
    {
        _g = g;
        _serial = serial;
        _idt = g.Data("idt", IdtSize, alignment: GuestAssembly.MaxDataAlignment);
        _idtr = g.Data("idtr", 10, alignment: 16);
        HostRequestPending = g.Data("host_request_pending", 64, alignment: 64); // a cache line of its own
        for (var i = 0; i < ExceptionCount; i++)
            _exceptionStubs[i] = g.CreateLabel($"exception_{i}");
        _exceptionCommon = g.CreateLabel("exception_common");
        _spuriousHandler = g.CreateLabel("spurious_interrupt");
        _hostRequestHandler = g.CreateLabel("host_request_interrupt");
    }

    /// <summary>The IDT: <see cref="IdtSize"/> bytes, one page.</summary>
    public Label Idt => _idt;

    /// <summary>Byte set to 1 by the host-request interrupt handler; whoever consumes the request clears it.</summary>
    public Label HostRequestPending { get; }

    /// <summary>
    /// Adds a gate for a program's own handler (bind <paramref name="handler"/> with <see cref="GuestAssembly.Bind"/>);
    /// it must end in <c>iretq</c> and send its own EOI.
    /// </summary>
    public void AddGate(byte vector, Label handler)
    {
        if (vector < ExceptionCount || vector is HostRequestVector or SpuriousVector || _extraGates.Any(e => e.Vector == vector))
            throw new ArgumentOutOfRangeException(nameof(vector), vector, "Vector is reserved or already used.");
        _extraGates.Add((vector, handler));
    }

    /// <summary><c>lidt</c> this image's IDT. Every vCPU runs it once before enabling interrupts.</summary>
    public void EmitLoadIdt() => _g.Asm.lidt(__[_idtr]);

    /// <summary>Emits the handlers (once, out of the fall-through path) and arranges for the IDT to be filled in.</summary>
    public void EmitHandlers()
    {
        if (_emitted)
            throw new InvalidOperationException("Interrupt handlers were already emitted.");
        _emitted = true;

        EmitExceptionHandlers();
        EmitSpuriousHandler();
        EmitHostRequestHandler();
        _g.Patch(FillIdt);
    }

    /// <summary>Writes a present, DPL-0, 64-bit interrupt gate for <paramref name="handler"/> into <paramref name="idt"/>.</summary>
    public static void WriteInterruptGate(Span<byte> idt, int vector, ulong handler)
    {
        var gate = idt.Slice(vector * GateSize, GateSize);
        gate.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(gate, (ushort)handler);
        BinaryPrimitives.WriteUInt16LittleEndian(gate[2..], GuestLayout.CodeSelector);
        gate[4] = 0; // IST 0: stay on the interrupted stack (everything runs at CPL 0)
        gate[5] = InterruptGateAttributes;
        BinaryPrimitives.WriteUInt16LittleEndian(gate[6..], (ushort)(handler >> 16));
        BinaryPrimitives.WriteUInt32LittleEndian(gate[8..], (uint)(handler >> 32));
    }

    private void FillIdt(GuestImagePatcher patcher)
    {
        var idt = patcher.At(_idt, IdtSize);
        for (var vector = 0; vector < ExceptionCount; vector++)
            WriteInterruptGate(idt, vector, patcher.AddressOf(_exceptionStubs[vector]));
        WriteInterruptGate(idt, HostRequestVector, patcher.AddressOf(_hostRequestHandler));
        WriteInterruptGate(idt, SpuriousVector, patcher.AddressOf(_spuriousHandler));
        foreach (var (vector, handler) in _extraGates)
            WriteInterruptGate(idt, vector, patcher.AddressOf(handler));

        var idtr = patcher.At(_idtr, 10);
        BinaryPrimitives.WriteUInt16LittleEndian(idtr, IdtSize - 1);
        BinaryPrimitives.WriteUInt64LittleEndian(idtr[2..], patcher.AddressOf(_idt));
    }

    /// <summary>
    /// One stub per exception pushes its vector and joins the common path. Some exceptions also pushed an error code
    /// below it; the common path never returns, so the frame layout doesn't matter.
    /// </summary>
    private void EmitExceptionHandlers()
    {
        var a = _g.Asm;
        for (var vector = 0; vector < ExceptionCount; vector++)
        {
            _g.Bind(ref _exceptionStubs[vector]);
            a.push(vector);
            a.jmp(_exceptionCommon);
        }

        _g.Bind(ref _exceptionCommon);
        _serial.EmitPrint("exception ");
        a.mov(rax, __qword_ptr[rsp]);
        a.call(_serial.PutDecimal);
        _serial.EmitPrintChar('\n');
        a.mov(rax, __qword_ptr[rsp]);
        a.add(eax, ExceptionExitCodeBase);
        PowerPortEmitter.EmitPowerOffWithEax(a);
    }

    /// <summary>Spurious interrupts are not in service, so they take no EOI.</summary>
    private void EmitSpuriousHandler()
    {
        _g.Bind(ref _spuriousHandler);
        _g.Asm.iretq();
    }

    private void EmitHostRequestHandler()
    {
        var a = _g.Asm;
        _g.Bind(ref _hostRequestHandler);
        a.push(rax);
        a.mov(__byte_ptr[HostRequestPending], 1);
        ApicEmitter.EmitEndOfInterrupt(a);
        a.pop(rax);
        a.iretq();
    }
}
