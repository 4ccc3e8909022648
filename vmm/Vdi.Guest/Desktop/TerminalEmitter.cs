using Iced.Intel;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// The terminal window's text: a grid of cells starting at (<see cref="DesktopState.TextX"/>, <see cref="DesktopState.TextY"/>).
/// Typed text is kept in <see cref="DesktopState.Text"/> and replayed when the desktop is repainted in a new mode.
/// Enter starts a new line, a full line wraps, Backspace erases the previous character of the line; a new line below
/// the grid's last row scrolls the grid up one row (see <c>TerminalEmitter.Scroll.cs</c>). While typing, each change
/// transfers and flushes only the cells it touched, and a scroll the text grid.
/// </summary>
internal sealed partial class TerminalEmitter
{
    public const byte Backspace = 8;

    private readonly GuestAssembly _g;
    private readonly DesktopState _state;
    private readonly DrawingEmitter _drawing;
    private readonly Label _flushRect;
    private Label _put;
    private Label _scroll;
    private Label _dropRow;
    private Label _key;
    private Label _replay;

    public TerminalEmitter(GuestAssembly g, DesktopState state, DrawingEmitter drawing, Label flushRect)
    {
        _g = g;
        _state = state;
        _drawing = drawing;
        _flushRect = flushRect;
        _put = g.CreateLabel("term_put");
        _scroll = g.CreateLabel("term_scroll");
        _dropRow = g.CreateLabel("term_drop_row");
        _key = g.CreateLabel("term_key");
        _replay = g.CreateLabel("term_replay");
    }

    /// <summary><c>term_key(edi = ASCII, '\n' or <see cref="Backspace"/>)</c>: a typed key.</summary>
    public Label Key => _key;

    /// <summary><c>term_replay()</c>: redraws the kept text without flushing (part of a full repaint).</summary>
    public Label Replay => _replay;

    public void EmitRoutines()
    {
        EmitPut();
        EmitScroll();
        EmitDropRow();
        EmitKey();
        EmitReplay();
    }

    /// <summary>edi, esi = pixel position of cell (<see cref="DesktopState.Column"/>, <see cref="DesktopState.Row"/>). Clobbers eax.</summary>
    private void EmitCellPosition()
    {
        var a = _g.Asm;
        a.mov(eax, __dword_ptr[_state.Unit]);
        a.imul(eax, eax, DesktopFont.CellColumns);
        a.imul(eax, __dword_ptr[_state.Column]);
        a.add(eax, __dword_ptr[_state.TextX]);
        a.mov(edi, eax);
        a.mov(eax, __dword_ptr[_state.Unit]);
        a.shl(eax, 3);
        a.imul(eax, __dword_ptr[_state.Row]);
        a.add(eax, __dword_ptr[_state.TextY]);
        a.mov(esi, eax);
    }

    /// <summary>Draws character edx in the current cell and flushes it when typing.</summary>
    private void EmitDrawCell()
    {
        var a = _g.Asm;
        var noFlush = a.CreateLabel("term_cell_no_flush");
        EmitCellPosition();
        a.push(rdi);
        a.push(rsi);
        a.mov(ecx, DesktopPalette.Text);
        a.mov(r8d, DesktopPalette.Body);
        a.call(_drawing.DrawChar);
        a.pop(rsi);
        a.pop(rdi);
        a.cmp(__dword_ptr[_state.FlushText], 0);
        a.je(noFlush);
        a.mov(edx, __dword_ptr[_state.Unit]);
        a.imul(edx, edx, DesktopFont.CellColumns);
        a.mov(ecx, __dword_ptr[_state.Unit]);
        a.shl(ecx, 3);
        a.call(_flushRect);
        a.Label(ref noFlush);
    }

    /// <summary><c>term_put(edi = character)</c> → eax = bytes a scroll dropped from the start of the kept text (usually 0).</summary>
    private void EmitPut()
    {
        var a = _g.Asm;
        var printable = a.CreateLabel("term_put_printable");
        var place = a.CreateLabel("term_put_place");
        var done = a.CreateLabel("term_put_done");
        _g.Bind(ref _put);
        a.push(rbx);
        a.push(rbp);
        a.mov(ebx, edi);
        a.xor(ebp, ebp);
        a.cmp(ebx, '\n');
        a.jne(printable);
        EmitNewRow(done);
        a.jmp(done);

        a.Label(ref printable);
        a.mov(eax, __dword_ptr[_state.Column]);
        a.cmp(eax, __dword_ptr[_state.Columns]);
        a.jb(place);
        EmitNewRow(place);
        a.Label(ref place);
        a.mov(edx, ebx);
        EmitDrawCell();
        a.inc(__dword_ptr[_state.Column]);
        a.Label(ref done);
        a.mov(eax, ebp);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>
    /// Moves to the start of the next row; when that is below the grid, scrolls (ebp = bytes it dropped). Goes on at
    /// <paramref name="next"/>, which the caller binds or jumps to right after.
    /// </summary>
    private void EmitNewRow(Label next)
    {
        var a = _g.Asm;
        a.mov(__dword_ptr[_state.Column], 0);
        a.inc(__dword_ptr[_state.Row]);
        a.mov(eax, __dword_ptr[_state.Row]);
        a.cmp(eax, __dword_ptr[_state.Rows]);
        a.jb(next);
        a.call(_scroll);
        a.mov(ebp, eax);
    }

    private void EmitKey()
    {
        var a = _g.Asm;
        var erase = a.CreateLabel("term_key_backspace");
        var append = a.CreateLabel("term_key_append");
        var refuse = a.CreateLabel("term_key_refuse");
        _g.Bind(ref _key);
        a.cmp(edi, Backspace);
        a.je(erase);
        a.push(rbx);
        a.mov(ebx, edi);
        a.call(_put);
        a.mov(eax, __dword_ptr[_state.TextLength]);
        a.cmp(eax, DesktopState.TextCapacity);
        a.jb(append);
        a.call(_dropRow); // a full buffer forgets its oldest row (still on screen until it scrolls away)
        a.mov(eax, __dword_ptr[_state.TextLength]);
        a.Label(ref append);
        a.lea(rcx, __[_state.Text]);
        a.mov(__byte_ptr[rcx + rax], bl);
        a.inc(eax);
        a.mov(__dword_ptr[_state.TextLength], eax);
        a.pop(rbx);
        a.ret();

        a.Label(ref erase);
        a.mov(eax, __dword_ptr[_state.TextLength]);
        a.test(eax, eax);
        a.jz(refuse);
        a.cmp(__dword_ptr[_state.Column], 0);
        a.je(refuse);
        a.lea(rcx, __[_state.Text]);
        a.cmp(__byte_ptr[rcx + rax - 1], (byte)'\n');
        a.je(refuse);
        a.dec(eax);
        a.mov(__dword_ptr[_state.TextLength], eax);
        a.dec(__dword_ptr[_state.Column]);
        a.mov(edx, ' ');
        EmitDrawCell();
        a.ret();
        a.Label(ref refuse);
        a.ret();
    }

    private void EmitReplay()
    {
        var a = _g.Asm;
        var loop = a.CreateLabel("term_replay_loop");
        var done = a.CreateLabel("term_replay_done");
        _g.Bind(ref _replay);
        a.push(rbx);
        a.mov(__dword_ptr[_state.Column], 0);
        a.mov(__dword_ptr[_state.Row], 0);
        a.mov(__dword_ptr[_state.FlushText], 0);
        a.xor(ebx, ebx);
        a.Label(ref loop);
        a.cmp(ebx, __dword_ptr[_state.TextLength]);
        a.jae(done);
        a.lea(rax, __[_state.Text]);
        a.movzx(edi, __byte_ptr[rax + rbx]);
        a.call(_put);
        a.sub(ebx, eax); // a scroll dropped rows that were all before this byte
        a.inc(ebx);
        a.jmp(loop);
        a.Label(ref done);
        a.mov(__dword_ptr[_state.FlushText], 1);
        a.pop(rbx);
        a.ret();
    }
}
