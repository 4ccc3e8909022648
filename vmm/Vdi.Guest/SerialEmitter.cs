using Iced.Intel;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest;

/// <summary>
/// Polled COM1 output routines. Call <see cref="EmitRoutines"/> once, somewhere execution never falls into
/// (after the program's code); call the routines with <c>call</c>. Each preserves every register and leaves the flags
/// undefined. They need a stack (about 200 bytes for <see cref="PutDecimal"/>).
/// </summary>
internal sealed class SerialEmitter
{
    private const ushort LineStatusPort = PortMap.Com1 + 5;
    private const byte TransmitHoldingEmpty = 0x20;

    private readonly GuestAssembly _g;
    private Label _putChar;
    private Label _putString;
    private Label _putDecimal;

    public SerialEmitter(GuestAssembly g)
    {
        _g = g;
        _putChar = g.CreateLabel("serial_putc");
        _putString = g.CreateLabel("serial_puts");
        _putDecimal = g.CreateLabel("serial_put_decimal");
    }

    /// <summary><c>serial_putc</c>: writes the byte in al.</summary>
    public Label PutChar => _putChar;

    /// <summary><c>serial_puts</c>: writes the NUL-terminated string at rsi.</summary>
    public Label PutString => _putString;

    /// <summary><c>serial_put_decimal</c>: writes rax as an unsigned decimal number.</summary>
    public Label PutDecimal => _putDecimal;

    /// <summary>Prints a constant string. Clobbers rsi.</summary>
    public void EmitPrint(string text)
    {
        _g.Asm.lea(rsi, __[_g.String(text)]);
        _g.Asm.call(_putString);
    }

    /// <summary>Prints one constant character. Clobbers al.</summary>
    public void EmitPrintChar(char c)
    {
        _g.Asm.mov(al, (byte)c);
        _g.Asm.call(_putChar);
    }

    public void EmitRoutines()
    {
        EmitPutChar();
        EmitPutString();
        EmitPutDecimal();
    }

    private void EmitPutChar()
    {
        var a = _g.Asm;
        var wait = a.CreateLabel("putc_wait");
        _g.Bind(ref _putChar);
        a.push(rdx);
        a.push(rax);
        a.mov(dx, LineStatusPort);
        a.Label(ref wait);
        a.@in(al, dx);
        a.test(al, TransmitHoldingEmpty);
        a.jz(wait);
        a.mov(al, __byte_ptr[rsp]); // the caller's al, saved by push rax
        a.mov(dx, PortMap.Com1);
        a.@out(dx, al);
        a.pop(rax);
        a.pop(rdx);
        a.ret();
    }

    private void EmitPutString()
    {
        var a = _g.Asm;
        var next = a.CreateLabel("puts_next");
        var done = a.CreateLabel("puts_done");
        _g.Bind(ref _putString);
        a.push(rax);
        a.push(rsi);
        a.Label(ref next);
        a.mov(al, __byte_ptr[rsi]);
        a.test(al, al);
        a.jz(done);
        a.call(_putChar);
        a.inc(rsi);
        a.jmp(next);
        a.Label(ref done);
        a.pop(rsi);
        a.pop(rax);
        a.ret();
    }

    private void EmitPutDecimal()
    {
        var a = _g.Asm;
        var divide = a.CreateLabel("put_decimal_divide");
        var print = a.CreateLabel("put_decimal_print");
        _g.Bind(ref _putDecimal);
        a.push(rax);
        a.push(rbx);
        a.push(rcx);
        a.push(rdx);
        a.mov(ebx, 10);
        a.xor(ecx, ecx);          // digit count
        a.Label(ref divide);      // push digits least significant first; at least one, so 0 prints "0"
        a.xor(edx, edx);
        a.div(rbx);
        a.push(rdx);
        a.inc(ecx);
        a.test(rax, rax);
        a.jnz(divide);
        a.Label(ref print);       // pop them most significant first
        a.pop(rax);
        a.add(al, (byte)'0');
        a.call(_putChar);
        a.dec(ecx);
        a.jnz(print);
        a.pop(rdx);
        a.pop(rcx);
        a.pop(rbx);
        a.pop(rax);
        a.ret();
    }
}
