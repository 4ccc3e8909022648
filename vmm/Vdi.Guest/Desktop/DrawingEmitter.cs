using Iced.Intel;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// Pixel routines on the framebuffer at <see cref="DesktopMemoryMap.Framebuffer"/> (stride = width·4, pixels
/// B8G8R8X8 as dwords 0x00RRGGBB). Fills are one <c>rep stosd</c> per row. Text is <see cref="DesktopFont"/> with each
/// dot <see cref="DesktopState.Unit"/> pixels square. Calling convention as in <see cref="Drivers.VirtioMmioEmitter"/>.
/// No clipping: callers keep inside the mode.
/// </summary>
internal sealed class DrawingEmitter
{
    private readonly GuestAssembly _g;
    private readonly DesktopState _state;
    private readonly Label _font;
    private Label _fillRect;
    private Label _drawChar;
    private Label _drawString;

    public DrawingEmitter(GuestAssembly g, DesktopState state)
    {
        _g = g;
        _state = state;
        _font = g.Data("font", DesktopFont.Build(), 8);
        _fillRect = g.CreateLabel("fill_rect");
        _drawChar = g.CreateLabel("draw_char");
        _drawString = g.CreateLabel("draw_string");
    }

    /// <summary><c>fill_rect(edi = x, esi = y, edx = width, ecx = height, r8d = colour)</c>.</summary>
    public Label FillRect => _fillRect;

    /// <summary><c>draw_char(edi = x, esi = y, edx = ASCII code, ecx = foreground, r8d = background)</c>: one whole cell.</summary>
    public Label DrawChar => _drawChar;

    /// <summary><c>draw_string(edi = x, esi = y, rdx = NUL-terminated text, ecx = fg, r8d = bg)</c> → eax = x past the last cell.</summary>
    public Label DrawString => _drawString;

    public void EmitRoutines()
    {
        EmitFillRect();
        EmitDrawChar();
        EmitDrawString();
    }

    private void EmitFillRect()
    {
        var a = _g.Asm;
        var row = a.CreateLabel("fill_rect_row");
        var done = a.CreateLabel("fill_rect_done");
        _g.Bind(ref _fillRect);
        a.test(edx, edx);
        a.jz(done);
        a.test(ecx, ecx);
        a.jz(done);
        a.mov(r9d, edx);
        a.mov(r10d, ecx);
        a.mov(eax, esi);
        a.imul(eax, __dword_ptr[_state.Width]);
        a.add(eax, edi);
        a.lea(r11, __[rax * 4 + (int)DesktopMemoryMap.Framebuffer]);
        a.mov(esi, __dword_ptr[_state.Width]);
        a.shl(esi, 2);
        a.mov(eax, r8d);
        a.Label(ref row);
        a.mov(rdi, r11);
        a.mov(ecx, r9d);
        a.rep.stosd();
        a.add(r11, rsi);
        a.dec(r10d);
        a.jnz(row);
        a.Label(ref done);
        a.ret();
    }

    private void EmitDrawChar()
    {
        var a = _g.Asm;
        var rowLoop = a.CreateLabel("draw_char_row");
        var columnLoop = a.CreateLabel("draw_char_column");
        var nextColumn = a.CreateLabel("draw_char_next_column");
        var done = a.CreateLabel("draw_char_done");
        _g.Bind(ref _drawChar);
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.push(rax); // [rsp]: the column being drawn
        a.mov(r12d, edi);
        a.mov(r13d, esi);
        a.mov(r14d, ecx);
        a.and(edx, DesktopFont.Codes - 1);
        a.lea(r15, __[_font]);
        a.lea(r15, __[r15 + rdx * DesktopFont.BytesPerGlyph]);

        a.mov(edx, __dword_ptr[_state.Unit]);
        a.imul(edx, edx, DesktopFont.CellColumns);
        a.mov(ecx, __dword_ptr[_state.Unit]);
        a.shl(ecx, 3); // CellRows = 8
        a.call(_fillRect); // background: edi, esi, r8d still hold x, y, bg

        a.xor(ebx, ebx);
        a.Label(ref rowLoop);
        a.cmp(ebx, DesktopFont.GlyphRows);
        a.jae(done);
        a.movzx(ebp, __byte_ptr[r15 + rbx]);
        a.mov(__dword_ptr[rsp], 0);
        a.Label(ref columnLoop);
        a.mov(ecx, DesktopFont.GlyphColumns - 1);
        a.sub(ecx, __dword_ptr[rsp]);
        a.mov(eax, ebp);
        a.shr(eax, cl);
        a.test(eax, 1);
        a.jz(nextColumn);
        a.mov(edi, __dword_ptr[rsp]);
        a.imul(edi, __dword_ptr[_state.Unit]);
        a.add(edi, r12d);
        a.mov(esi, ebx);
        a.imul(esi, __dword_ptr[_state.Unit]);
        a.add(esi, r13d);
        a.mov(edx, __dword_ptr[_state.Unit]);
        a.mov(ecx, edx);
        a.mov(r8d, r14d);
        a.call(_fillRect);
        a.Label(ref nextColumn);
        a.inc(__dword_ptr[rsp]);
        a.cmp(__dword_ptr[rsp], DesktopFont.GlyphColumns);
        a.jb(columnLoop);
        a.inc(ebx);
        a.jmp(rowLoop);

        a.Label(ref done);
        a.pop(rax);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    private void EmitDrawString()
    {
        var a = _g.Asm;
        var loop = a.CreateLabel("draw_string_loop");
        var done = a.CreateLabel("draw_string_done");
        _g.Bind(ref _drawString);
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.mov(r12d, edi);
        a.mov(r13d, esi);
        a.mov(rbx, rdx);
        a.mov(r14d, ecx);
        a.mov(ebp, r8d);
        a.Label(ref loop);
        a.movzx(edx, __byte_ptr[rbx]);
        a.test(edx, edx);
        a.jz(done);
        a.mov(edi, r12d);
        a.mov(esi, r13d);
        a.mov(ecx, r14d);
        a.mov(r8d, ebp);
        a.call(_drawChar);
        a.mov(eax, __dword_ptr[_state.Unit]);
        a.imul(eax, eax, DesktopFont.CellColumns);
        a.add(r12d, eax);
        a.inc(rbx);
        a.jmp(loop);
        a.Label(ref done);
        a.mov(eax, r12d);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }
}
