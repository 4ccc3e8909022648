using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Guest.Desktop;

/// <summary>
/// The terminal window's text: a grid of cells starting at (<see cref="DesktopState.TextX"/>, <see cref="DesktopState.TextY"/>).
/// Typed text is kept in <see cref="DesktopState.Text"/> and replayed when the desktop is repainted in a new mode.
/// Enter starts a new line, a full line wraps, Backspace erases the previous character of the line; when the grid is
/// full it is cleared (and the kept text with it) and writing starts again at the top. While typing, each change
/// transfers and flushes only the cells it touched.
/// </summary>
internal sealed class TerminalEmitter
{
    public const byte Backspace = 8;

    private readonly GuestAssembly _g;
    private readonly DesktopState _state;
    private readonly DrawingEmitter _drawing;
    private readonly Label _flushRect;
    private Label _put;
    private Label _clearIfFull;
    private Label _key;
    private Label _replay;

    public TerminalEmitter(GuestAssembly g, DesktopState state, DrawingEmitter drawing, Label flushRect)
    {
        _g = g;
        _state = state;
        _drawing = drawing;
        _flushRect = flushRect;
        _put = g.CreateLabel("term_put");
        _clearIfFull = g.CreateLabel("term_clear_if_full");
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
        EmitClearIfFull();
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

    /// <summary><c>term_put(edi = character)</c> → eax = 1 when the grid was cleared to make room.</summary>
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
        a.mov(__dword_ptr[_state.Column], 0);
        a.inc(__dword_ptr[_state.Row]);
        a.call(_clearIfFull);
        a.mov(ebp, eax);
        a.jmp(done);

        a.Label(ref printable);
        a.mov(eax, __dword_ptr[_state.Column]);
        a.cmp(eax, __dword_ptr[_state.Columns]);
        a.jb(place);
        a.mov(__dword_ptr[_state.Column], 0);
        a.inc(__dword_ptr[_state.Row]);
        a.call(_clearIfFull);
        a.mov(ebp, eax);
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

    private void EmitClearIfFull()
    {
        var a = _g.Asm;
        var notFull = a.CreateLabel("term_not_full");
        var noFlush = a.CreateLabel("term_clear_no_flush");
        _g.Bind(ref _clearIfFull);
        a.xor(eax, eax);
        a.mov(ecx, __dword_ptr[_state.Row]);
        a.cmp(ecx, __dword_ptr[_state.Rows]);
        a.jb(notFull);
        a.mov(__dword_ptr[_state.Row], 0);
        a.mov(__dword_ptr[_state.TextLength], 0);
        a.mov(edi, __dword_ptr[_state.TextX]);
        a.mov(esi, __dword_ptr[_state.TextY]);
        a.mov(edx, __dword_ptr[_state.Columns]);
        a.imul(edx, __dword_ptr[_state.Unit]);
        a.imul(edx, edx, DesktopFont.CellColumns);
        a.mov(ecx, __dword_ptr[_state.Rows]);
        a.imul(ecx, __dword_ptr[_state.Unit]);
        a.shl(ecx, 3);
        a.mov(r8d, DesktopPalette.Body);
        a.push(rdi);
        a.push(rsi);
        a.push(rdx);
        a.push(rcx);
        a.call(_drawing.FillRect);
        a.pop(rcx);
        a.pop(rdx);
        a.pop(rsi);
        a.pop(rdi);
        a.cmp(__dword_ptr[_state.FlushText], 0);
        a.je(noFlush);
        a.call(_flushRect);
        a.Label(ref noFlush);
        a.mov(eax, 1);
        a.Label(ref notFull);
        a.ret();
    }

    private void EmitKey()
    {
        var a = _g.Asm;
        var erase = a.CreateLabel("term_key_backspace");
        var append = a.CreateLabel("term_key_append");
        var skip = a.CreateLabel("term_key_skip");
        var refuse = a.CreateLabel("term_key_refuse");
        _g.Bind(ref _key);
        a.cmp(edi, Backspace);
        a.je(erase);
        a.push(rbx);
        a.mov(ebx, edi);
        a.call(_put);
        a.test(eax, eax);
        a.jz(append);
        a.cmp(ebx, '\n');
        a.je(skip); // a newline that cleared the grid leaves it empty
        a.Label(ref append);
        a.mov(eax, __dword_ptr[_state.TextLength]);
        a.cmp(eax, DesktopState.TextCapacity);
        a.jae(skip);
        a.lea(rcx, __[_state.Text]);
        a.mov(__byte_ptr[rcx + rax], bl);
        a.inc(eax);
        a.mov(__dword_ptr[_state.TextLength], eax);
        a.Label(ref skip);
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
        a.inc(ebx);
        a.jmp(loop);
        a.Label(ref done);
        a.mov(__dword_ptr[_state.FlushText], 1);
        a.pop(rbx);
        a.ret();
    }
}
