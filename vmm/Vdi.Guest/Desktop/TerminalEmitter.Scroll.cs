using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// Scrolling. A new row below the grid's last one moves the grid's pixel rows up one text row (one <c>rep movsd</c>
/// per pixel row), clears the freed bottom row and, while typing, flushes the grid; the kept text drops its top row with
/// it, so it always starts where the grid does and a repaint never replays more than fits. While the full-motion panel
/// covers part of the grid its pixels are not the terminal's, so a typed scroll then only moves the model and asks for a
/// repaint of the whole screen instead.
/// </summary>
internal sealed partial class TerminalEmitter
{
    /// <summary><c>term_scroll()</c>, with <see cref="DesktopState.Row"/> one past the grid → eax = bytes dropped from the kept text.</summary>
    private void EmitScroll()
    {
        var a = _g.Asm;
        var move = a.CreateLabel("term_scroll_move");
        var copy = a.CreateLabel("term_scroll_copy");
        var clear = a.CreateLabel("term_scroll_clear");
        var done = a.CreateLabel("term_scroll_done");
        _g.Bind(ref _scroll);
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.dec(__dword_ptr[_state.Row]);
        a.call(_dropRow);
        a.mov(ebx, eax);
        a.cmp(__dword_ptr[_state.FlushText], 0);
        a.je(move);
        a.cmp(__dword_ptr[_state.MotionOn], 0);
        a.je(move);
        a.mov(__dword_ptr[_state.RepaintPending], 1);
        a.jmp(done);

        // r12d = text row height, ebp = grid height, r13d = grid width (pixels).
        a.Label(ref move);
        a.mov(r12d, __dword_ptr[_state.Unit]);
        a.shl(r12d, 3); // CellRows = 8
        a.mov(ebp, __dword_ptr[_state.Rows]);
        a.imul(ebp, r12d);
        a.mov(r13d, __dword_ptr[_state.Columns]);
        a.imul(r13d, __dword_ptr[_state.Unit]);
        a.imul(r13d, r13d, DesktopFont.CellColumns);
        a.mov(eax, __dword_ptr[_state.TextY]);
        a.imul(eax, __dword_ptr[_state.Width]);
        a.add(eax, __dword_ptr[_state.TextX]);
        a.lea(r10, __[rax * 4 + (int)DesktopMemoryMap.Framebuffer]); // destination: the grid's first pixel row
        a.mov(eax, r12d);
        a.imul(eax, __dword_ptr[_state.Width]);
        a.lea(r11, __[r10 + rax * 4]);                                  // source: one text row below
        a.mov(r8d, __dword_ptr[_state.Width]);
        a.shl(r8d, 2);
        a.mov(r9d, ebp);
        a.sub(r9d, r12d);
        a.jz(clear); // a one-row grid has nothing to move
        a.Label(ref copy);
        a.mov(rdi, r10);
        a.mov(rsi, r11);
        a.mov(ecx, r13d);
        a.rep.movsd();
        a.add(r10, r8);
        a.add(r11, r8);
        a.dec(r9d);
        a.jnz(copy);

        a.Label(ref clear);
        a.mov(edi, __dword_ptr[_state.TextX]);
        a.mov(esi, __dword_ptr[_state.TextY]);
        a.add(esi, ebp);
        a.sub(esi, r12d);
        a.mov(edx, r13d);
        a.mov(ecx, r12d);
        a.mov(r8d, DesktopPalette.Body);
        a.call(_drawing.FillRect);
        a.cmp(__dword_ptr[_state.FlushText], 0);
        a.je(done);
        a.mov(edi, __dword_ptr[_state.TextX]);
        a.mov(esi, __dword_ptr[_state.TextY]);
        a.mov(edx, r13d);
        a.mov(ecx, ebp);
        a.call(_flushRect);
        a.Label(ref done);
        a.mov(eax, ebx);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>
    /// <c>term_drop_row()</c> → eax = bytes removed from the start of the kept text: its first row as the grid lays it out
    /// (up to <see cref="DesktopState.Columns"/> characters, and the newline that ends it, if one does). At least one byte
    /// unless the text is empty. Clobbers rcx, rdx, rsi, rdi, r8, r9.
    /// </summary>
    private void EmitDropRow()
    {
        var a = _g.Asm;
        var scan = a.CreateLabel("term_drop_scan");
        var rowFull = a.CreateLabel("term_drop_row_full");
        var newline = a.CreateLabel("term_drop_newline");
        var found = a.CreateLabel("term_drop_found");
        var done = a.CreateLabel("term_drop_done");
        _g.Bind(ref _dropRow);
        a.mov(r8d, __dword_ptr[_state.TextLength]);
        a.lea(r9, __[_state.Text]);
        a.mov(ecx, __dword_ptr[_state.Columns]);
        a.xor(eax, eax);
        a.Label(ref scan);
        a.cmp(eax, r8d);
        a.jae(found);
        a.cmp(eax, ecx);
        a.jae(rowFull);
        a.cmp(__byte_ptr[r9 + rax], (byte)'\n');
        a.je(newline);
        a.inc(eax);
        a.jmp(scan);
        a.Label(ref rowFull); // a full row's newline still belongs to it (it moves the cursor no further)
        a.cmp(__byte_ptr[r9 + rax], (byte)'\n');
        a.jne(found);
        a.Label(ref newline);
        a.inc(eax);
        a.Label(ref found);
        a.test(eax, eax);
        a.jz(done);
        // Move the rest down: ⌈rest / 4⌉ dwords, which stays inside the buffer's slack.
        a.mov(edx, r8d);
        a.sub(edx, eax);
        a.mov(__dword_ptr[_state.TextLength], edx);
        a.lea(rsi, __[r9 + rax]);
        a.mov(rdi, r9);
        a.lea(ecx, __[rdx + 3]);
        a.shr(ecx, 2);
        a.rep.movsd();
        a.Label(ref done);
        a.ret();
    }
}
