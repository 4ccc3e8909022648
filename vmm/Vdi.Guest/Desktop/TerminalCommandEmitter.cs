using Iced.Intel;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Desktop;

/// <summary>
/// Commands typed in the terminal. When Enter ends a line that is exactly one of the commands (<see cref="Add"/>), the
/// command runs right after the terminal has shown the Enter, before the next key, so its output follows its line; any
/// other line is only text, as before. A command prints into the terminal with <see cref="Print"/>, as if it were typed
/// (kept, replayed on a repaint, scrolled).
/// </summary>
internal sealed class TerminalCommandEmitter
{
    private readonly GuestAssembly _g;
    private readonly DesktopState _state;
    private readonly Label _terminalKey;
    private readonly Label _pending;
    private readonly List<(string Line, Label Routine)> _commands = [];
    private Label _key;
    private Label _print;
    private Label _serve;
    private Label _matches;

    public TerminalCommandEmitter(GuestAssembly g, DesktopState state, Label terminalKey)
    {
        _g = g;
        _state = state;
        _terminalKey = terminalKey;
        _pending = g.Data("command_pending", 4, 4);
        _key = g.CreateLabel("command_key");
        _print = g.CreateLabel("term_print");
        _serve = g.CreateLabel("command_serve");
        _matches = g.CreateLabel("command_matches");
    }

    /// <summary>
    /// <c>command_key(edi = ASCII)</c>: a typed key, as <see cref="TerminalEmitter.Key"/>; Enter first looks at the line
    /// it ends, and runs the command it names once the new line is shown.
    /// </summary>
    public Label Key => _key;

    /// <summary><c>term_print(rsi = NUL-terminated ASCII)</c>: puts the text in the terminal as typed text (no command is looked for).</summary>
    public Label Print => _print;

    /// <summary>Adds a command: <paramref name="routine"/> (a routine under the drivers' calling convention) runs when a line is exactly <paramref name="line"/>.</summary>
    public void Add(string line, Label routine)
    {
        ArgumentException.ThrowIfNullOrEmpty(line);
        _commands.Add((line, routine));
    }

    public void EmitRoutines()
    {
        EmitKey();
        EmitMatches();
        EmitServe();
        EmitPrint();
    }

    private void EmitKey()
    {
        var a = _g.Asm;
        var lineStart = a.CreateLabel("command_line_start");
        var found = a.CreateLabel("command_line_found");
        var done = a.CreateLabel("command_key_done");
        _g.Bind(ref _key);
        a.cmp(edi, '\n');
        a.jne(_terminalKey);
        a.push(rdi);
        // The line Enter ends: the kept text after its last '\n' (rsi = start, edx = length).
        a.mov(ecx, __dword_ptr[_state.TextLength]);
        a.mov(edx, ecx);
        a.lea(rsi, __[_state.Text]);
        a.Label(ref lineStart);
        a.test(ecx, ecx);
        a.jz(found);
        a.cmp(__byte_ptr[rsi + rcx - 1], (byte)'\n');
        a.je(found);
        a.dec(ecx);
        a.jmp(lineStart);
        a.Label(ref found);
        a.sub(edx, ecx);
        a.add(rsi, rcx);
        for (var i = 0; i < _commands.Count; i++)
        {
            var last = i == _commands.Count - 1;
            var next = last ? done : a.CreateLabel("command_key_next");
            var line = _commands[i].Line;
            a.cmp(edx, line.Length);
            a.jne(next);
            a.lea(rdi, __[_g.String(line)]);
            a.mov(ecx, line.Length);
            a.call(_matches);
            a.jne(next);
            a.mov(__dword_ptr[_pending], i + 1);
            if (last)
                break;
            a.jmp(done);
            a.Label(ref next);
        }
        a.Label(ref done);
        a.pop(rdi);
        a.call(_terminalKey);
        a.jmp(_serve);
    }

    /// <summary><c>command_matches(rsi, rdi, ecx &gt; 0)</c>: ZF set when the ecx bytes at rsi and rdi are equal. Clobbers al, ecx.</summary>
    private void EmitMatches()
    {
        var a = _g.Asm;
        var done = a.CreateLabel("command_matches_done");
        _g.Bind(ref _matches);
        a.mov(al, __byte_ptr[rsi + rcx - 1]);
        a.cmp(al, __byte_ptr[rdi + rcx - 1]);
        a.jne(done);
        a.dec(ecx);
        a.jnz(_matches);
        a.Label(ref done);
        a.ret();
    }

    /// <summary><c>command_serve()</c>: runs the command the Enter just found, if any.</summary>
    private void EmitServe()
    {
        var a = _g.Asm;
        var none = a.CreateLabel("command_serve_none");
        _g.Bind(ref _serve);
        a.mov(eax, __dword_ptr[_pending]);
        a.test(eax, eax);
        a.jz(none);
        a.mov(__dword_ptr[_pending], 0);
        for (var i = 0; i < _commands.Count; i++)
        {
            a.cmp(eax, i + 1);
            a.je(_commands[i].Routine); // a tail call: the command returns to the key's caller
        }
        a.Label(ref none);
        a.ret();
    }

    private void EmitPrint()
    {
        var a = _g.Asm;
        var loop = a.CreateLabel("term_print_loop");
        var done = a.CreateLabel("term_print_done");
        _g.Bind(ref _print);
        a.push(rbx);
        a.mov(rbx, rsi);
        a.Label(ref loop);
        a.movzx(edi, __byte_ptr[rbx]);
        a.test(edi, edi);
        a.jz(done);
        a.call(_terminalKey);
        a.inc(rbx);
        a.jmp(loop);
        a.Label(ref done);
        a.pop(rbx);
        a.ret();
    }
}
