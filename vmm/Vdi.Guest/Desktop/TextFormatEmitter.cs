using Iced.Intel;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// Builds text in memory: decimal numbers, copied strings and the UTC clock (from the
/// <see cref="HypercallNumbers.WallClock"/> hypercall). Each routine writes at rdi and returns rdi past what it wrote,
/// without a terminating NUL. Calling convention as in <see cref="Drivers.VirtioMmioEmitter"/>.
/// </summary>
internal sealed class TextFormatEmitter
{
    private readonly GuestAssembly _g;
    private Label _decimal;
    private Label _twoDigits;
    private Label _append;
    private Label _clock;

    public TextFormatEmitter(GuestAssembly g)
    {
        _g = g;
        _decimal = g.CreateLabel("format_decimal");
        _twoDigits = g.CreateLabel("format_two_digits");
        _append = g.CreateLabel("format_append");
        _clock = g.CreateLabel("format_clock");
    }

    /// <summary><c>format_decimal(rdi = destination, eax = value)</c>.</summary>
    public Label Decimal => _decimal;

    /// <summary><c>format_append(rdi = destination, rsi = NUL-terminated source)</c>.</summary>
    public Label Append => _append;

    /// <summary><c>format_clock(rdi = destination)</c>: <c>HH:MM:SS</c>, UTC.</summary>
    public Label Clock => _clock;

    public void EmitRoutines()
    {
        EmitDecimal();
        EmitTwoDigits();
        EmitAppend();
        EmitClock();
    }

    private void EmitDecimal()
    {
        var a = _g.Asm;
        var divide = a.CreateLabel("format_decimal_divide");
        var emit = a.CreateLabel("format_decimal_emit");
        _g.Bind(ref _decimal);
        a.mov(r8d, 10);
        a.xor(ecx, ecx);
        a.Label(ref divide);
        a.xor(edx, edx);
        a.div(r8d);
        a.push(rdx);
        a.inc(ecx);
        a.test(eax, eax);
        a.jnz(divide);
        a.Label(ref emit);
        a.pop(rax);
        a.add(al, (byte)'0');
        a.mov(__byte_ptr[rdi], al);
        a.inc(rdi);
        a.dec(ecx);
        a.jnz(emit);
        a.ret();
    }

    /// <summary><c>format_two_digits(rdi, eax &lt; 100)</c>: always two digits.</summary>
    private void EmitTwoDigits()
    {
        var a = _g.Asm;
        _g.Bind(ref _twoDigits);
        a.mov(r8d, 10);
        a.xor(edx, edx);
        a.div(r8d);
        a.add(al, (byte)'0');
        a.mov(__byte_ptr[rdi], al);
        a.add(dl, (byte)'0');
        a.mov(__byte_ptr[rdi + 1], dl);
        a.add(rdi, 2);
        a.ret();
    }

    private void EmitAppend()
    {
        var a = _g.Asm;
        var done = a.CreateLabel("format_append_done");
        _g.Bind(ref _append);
        a.mov(al, __byte_ptr[rsi]);
        a.test(al, al);
        a.jz(done);
        a.mov(__byte_ptr[rdi], al);
        a.inc(rdi);
        a.inc(rsi);
        a.jmp(_append);
        a.Label(ref done);
        a.ret();
    }

    private void EmitClock()
    {
        var a = _g.Asm;
        _g.Bind(ref _clock);
        a.push(rbx);
        a.push(rbp);
        a.mov(eax, HypercallNumbers.WallClock);
        a.mov(dx, PortMap.Hypercall);
        a.@out(dx, eax);
        a.xor(edx, edx);
        a.mov(ecx, 1000);
        a.div(rcx);               // rax = Unix seconds
        a.xor(edx, edx);
        a.mov(ecx, 86_400);
        a.div(rcx);               // rdx = seconds into the UTC day
        a.mov(eax, edx);
        a.xor(edx, edx);
        a.mov(ecx, 60);
        a.div(ecx);
        a.mov(ebx, edx);          // seconds
        a.xor(edx, edx);
        a.div(ecx);
        a.mov(ebp, edx);          // minutes; eax = hours
        a.call(_twoDigits);
        a.mov(__byte_ptr[rdi], (byte)':');
        a.inc(rdi);
        a.mov(eax, ebp);
        a.call(_twoDigits);
        a.mov(__byte_ptr[rdi], (byte)':');
        a.inc(rdi);
        a.mov(eax, ebx);
        a.call(_twoDigits);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }
}
