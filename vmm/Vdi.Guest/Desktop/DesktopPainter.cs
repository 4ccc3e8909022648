using Iced.Intel;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Guest.Desktop.DesktopLayout;

namespace Vdi.Guest.Desktop;

/// <summary>
/// Paints the whole desktop into the framebuffer (background, top bar with <c>WxH  D dpi  HH:MM:SS</c>, the terminal
/// window and its text) and redraws the clock on its own. See <see cref="DesktopLayout"/> for the geometry.
/// </summary>
internal sealed class DesktopPainter
{
    private readonly GuestAssembly _g;
    private readonly DesktopState _state;
    private readonly DrawingEmitter _drawing;
    private readonly TextFormatEmitter _format;
    private Label _paint;
    private Label _drawClock;

    public DesktopPainter(GuestAssembly g, DesktopState state, DrawingEmitter drawing, TextFormatEmitter format)
    {
        _g = g;
        _state = state;
        _drawing = drawing;
        _format = format;
        _paint = g.CreateLabel("paint_desktop");
        _drawClock = g.CreateLabel("draw_clock");
    }

    /// <summary><c>paint_desktop()</c>: the full frame, nothing flushed. Calls <paramref name="replayText"/> of <see cref="EmitRoutines"/>.</summary>
    public Label Paint => _paint;

    /// <summary><c>draw_clock(edi = nonzero to flush its rectangle)</c>.</summary>
    public Label DrawClock => _drawClock;

    public void EmitRoutines(Label replayText, Label flushRect)
    {
        EmitPaint(replayText);
        EmitDrawClock(flushRect);
    }

    private void EmitPaint(Label replayText)
    {
        var a = _g.Asm;
        _g.Bind(ref _paint);
        a.push(rbx);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.mov(ebx, __dword_ptr[_state.Unit]);

        a.xor(edi, edi);
        a.xor(esi, esi);
        a.mov(edx, __dword_ptr[_state.Width]);
        a.mov(ecx, __dword_ptr[_state.Height]);
        a.mov(r8d, DesktopPalette.Background);
        a.call(_drawing.FillRect);

        a.xor(edi, edi);
        a.xor(esi, esi);
        a.mov(edx, __dword_ptr[_state.Width]);
        a.imul(ecx, ebx, BarHeight);
        a.mov(r8d, DesktopPalette.Bar);
        a.call(_drawing.FillRect);

        // "WxH  D dpi  " then the clock, whose cells start where that text ends.
        a.lea(rdi, __[_state.Line]);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.call(_format.Decimal);
        a.mov(__byte_ptr[rdi], (byte)'x');
        a.inc(rdi);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.call(_format.Decimal);
        a.lea(rsi, __[_g.String("  ")]);
        a.call(_format.Append);
        a.mov(eax, __dword_ptr[_state.Dpi]);
        a.call(_format.Decimal);
        a.lea(rsi, __[_g.String(" dpi  ")]);
        a.call(_format.Append);
        a.mov(__byte_ptr[rdi], 0);
        a.imul(edi, ebx, BarTextX);
        a.imul(esi, ebx, BarTextY);
        a.lea(rdx, __[_state.Line]);
        a.mov(ecx, DesktopPalette.BarText);
        a.mov(r8d, DesktopPalette.Bar);
        a.call(_drawing.DrawString);
        a.mov(__dword_ptr[_state.ClockX], eax);
        a.imul(eax, ebx, BarTextY);
        a.mov(__dword_ptr[_state.ClockY], eax);
        a.xor(edi, edi);
        a.call(_drawClock);

        // The window: r12d, r13d = top-left; r14d, r15d = size.
        a.imul(r12d, ebx, WindowMargin);
        a.imul(r13d, ebx, WindowTop);
        a.mov(r14d, __dword_ptr[_state.Width]);
        a.imul(eax, ebx, 2 * WindowMargin);
        a.sub(r14d, eax);
        a.mov(r15d, __dword_ptr[_state.Height]);
        a.imul(eax, ebx, WindowTop + WindowMargin);
        a.sub(r15d, eax);

        a.mov(edi, r12d);
        a.mov(esi, r13d);
        a.mov(edx, r14d);
        a.imul(ecx, ebx, TitleHeight);
        a.mov(r8d, DesktopPalette.Title);
        a.call(_drawing.FillRect);
        a.imul(edi, ebx, TitleTextX);
        a.add(edi, r12d);
        a.imul(esi, ebx, TitleTextY);
        a.add(esi, r13d);
        a.lea(rdx, __[_g.String("terminal")]);
        a.mov(ecx, DesktopPalette.TitleText);
        a.mov(r8d, DesktopPalette.Title);
        a.call(_drawing.DrawString);

        a.mov(edi, r12d);
        a.imul(esi, ebx, TitleHeight);
        a.add(esi, r13d);
        a.mov(edx, r14d);
        a.imul(eax, ebx, TitleHeight);
        a.mov(ecx, r15d);
        a.sub(ecx, eax);
        a.mov(r8d, DesktopPalette.Body);
        a.call(_drawing.FillRect);

        // The text grid: columns = (w − 2·TextX) / 6, rows = (h − TextY − 2) / 8 (in units), at least 1 each.
        a.imul(eax, ebx, TextX);
        a.add(eax, r12d);
        a.mov(__dword_ptr[_state.TextX], eax);
        a.imul(eax, ebx, TextY);
        a.add(eax, r13d);
        a.mov(__dword_ptr[_state.TextY], eax);
        a.imul(ecx, ebx, DesktopFont.CellColumns);
        a.imul(eax, ebx, 2 * TextX);
        a.mov(edx, r14d);
        a.sub(edx, eax);
        a.mov(eax, edx);
        a.xor(edx, edx);
        a.div(ecx);
        EmitAtLeastOne();
        a.mov(__dword_ptr[_state.Columns], eax);
        a.imul(ecx, ebx, DesktopFont.CellRows);
        a.imul(eax, ebx, TextY + 2);
        a.mov(edx, r15d);
        a.sub(edx, eax);
        a.mov(eax, edx);
        a.xor(edx, edx);
        a.div(ecx);
        EmitAtLeastOne();
        a.mov(__dword_ptr[_state.Rows], eax);
        a.call(replayText);

        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbx);
        a.ret();
    }

    private void EmitAtLeastOne()
    {
        var a = _g.Asm;
        var ok = a.CreateLabel("at_least_one");
        a.test(eax, eax);
        a.jnz(ok);
        a.mov(eax, 1);
        a.Label(ref ok);
    }

    private void EmitDrawClock(Label flushRect)
    {
        var a = _g.Asm;
        var done = a.CreateLabel("draw_clock_done");
        _g.Bind(ref _drawClock);
        a.push(rbx);
        a.mov(ebx, edi);
        a.lea(rdi, __[_state.Line]);
        a.call(_format.Clock);
        a.mov(__byte_ptr[rdi], 0);
        a.mov(edi, __dword_ptr[_state.ClockX]);
        a.mov(esi, __dword_ptr[_state.ClockY]);
        a.lea(rdx, __[_state.Line]);
        a.mov(ecx, DesktopPalette.BarText);
        a.mov(r8d, DesktopPalette.Bar);
        a.call(_drawing.DrawString);
        a.test(ebx, ebx);
        a.jz(done);
        a.mov(edi, __dword_ptr[_state.ClockX]);
        a.mov(esi, __dword_ptr[_state.ClockY]);
        a.mov(edx, __dword_ptr[_state.Unit]);
        a.imul(edx, edx, ClockCells * DesktopFont.CellColumns);
        a.mov(ecx, __dword_ptr[_state.Unit]);
        a.shl(ecx, 3);
        a.call(flushRect);
        a.Label(ref done);
        a.pop(rbx);
        a.ret();
    }
}
