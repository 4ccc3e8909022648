using Iced.Intel;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Virtio;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Guest.Drivers.GpuCommandEmitter;

namespace Vdi.Guest.Drivers;

/// <summary>
/// The virtio-gpu driver: <see cref="Start"/> brings the device up and defines the cursor; <see cref="Configure"/>
/// follows the display the device reports (GET_DISPLAY_INFO, GET_EDID → DPI), builds a new resource backed by the
/// framebuffer, has the desktop painted, transfers it, points the scanout at it, flushes the full frame and drops the
/// old resource. Resource ids alternate 2 and 3 (1 is the cursor).
/// </summary>
internal sealed partial class GpuDriverEmitter
{
    private readonly GuestRuntime _runtime;
    private readonly GpuCommandEmitter _commands;
    private readonly VirtioMmioEmitter _virtio;
    private readonly DesktopState _state;
    private readonly Label _arrow;
    private Label _start;
    private Label _configure;
    private Label _recover;

    public GpuDriverEmitter(GuestRuntime runtime, VirtioMmioEmitter virtio, GpuCommandEmitter commands, DesktopState state)
    {
        _runtime = runtime;
        _virtio = virtio;
        _commands = commands;
        _state = state;
        _arrow = runtime.Assembly.Data("cursor_arrow", CursorArrow.Build(), 8);
        _start = runtime.Assembly.CreateLabel("gpu_start");
        _configure = runtime.Assembly.CreateLabel("gpu_configure");
        _recover = runtime.Assembly.CreateLabel("gpu_recover");
    }

    /// <summary><c>gpu_start()</c> → eax = 0 when the GPU is live and the cursor defined (see <see cref="VirtioMmioEmitter.Init"/>).</summary>
    public Label Start => _start;

    /// <summary><c>gpu_configure()</c>: shows the device's current mode (calls <paramref name="paint"/> of <see cref="EmitRoutines"/>).</summary>
    public Label Configure => _configure;

    /// <summary><c>gpu_recover()</c>: when the device asks for a reset, resets it and shows the mode again; else nothing.</summary>
    public Label Recover => _recover;

    public void EmitRoutines(Label paint)
    {
        EmitStart();
        EmitConfigure(paint);
        EmitRecover();
    }

    private void EmitAttachBacking(Action resourceToEax, Action addressToEax, Action lengthToEax)
    {
        var a = _runtime.Assembly.Asm;
        _commands.EmitBegin(ResourceAttachBacking);
        resourceToEax();
        a.mov(Field(24), eax);
        a.mov(Field(28), 1u);
        addressToEax();
        a.mov(__qword_ptr[r11 + 32], rax);
        lengthToEax();
        a.mov(Field(40), eax);
        _commands.EmitSubmit(48);
    }

    /// <summary>
    /// Looks for a DisplayID 2.0 Display Parameters block (tag 0x21, sizes in 0.1 mm) in the EDID's first extension
    /// (r11 + 32 is the EDID); when one gives a width, ebx = round(width px × 254 / tenths) and jumps to
    /// <paramref name="haveDpi"/>, else falls through. Clobbers rax, rcx, rdx.
    /// </summary>
    private void EmitDisplayIdDpi(Label haveDpi)
    {
        var a = _runtime.Assembly.Asm;
        var next = a.CreateLabel("displayid_next_block");
        var found = a.CreateLabel("displayid_found");
        var none = a.CreateLabel("displayid_none");
        a.push(rsi);
        a.push(rdi);
        a.cmp(__byte_ptr[r11 + 32 + 126], 0);                 // extension count
        a.je(none);
        a.cmp(__byte_ptr[r11 + 32 + 128], 0x70);              // DisplayID extension
        a.jne(none);
        a.movzx(edx, __byte_ptr[r11 + 32 + 128 + 2]);         // data bytes in the section
        a.cmp(edx, 121);
        a.ja(none);
        a.lea(rsi, __[r11 + 32 + 128 + 5]);                   // first data block
        a.lea(rdi, __[rsi + rdx]);                            // end of the data blocks
        a.Label(ref next);
        a.lea(rax, __[rsi + 3]);
        a.cmp(rax, rdi);
        a.ja(none);
        a.cmp(__byte_ptr[rsi], 0x21);
        a.je(found);
        a.movzx(eax, __byte_ptr[rsi + 2]);
        a.lea(rsi, __[rsi + rax + 3]);
        a.jmp(next);
        a.Label(ref found);
        a.test(__byte_ptr[rsi + 1], 0x80);                    // sizes in whole millimetres: the base block says as much
        a.jnz(none);
        a.movzx(ecx, __word_ptr[rsi + 3]);                    // width in 0.1 mm
        a.test(ecx, ecx);
        a.jz(none);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.imul(eax, eax, 254);
        a.mov(edx, ecx);
        a.shr(edx, 1);
        a.add(eax, edx);                                      // + half the divisor rounds
        a.xor(edx, edx);
        a.div(ecx);
        a.mov(ebx, eax);
        a.pop(rdi);
        a.pop(rsi);
        a.jmp(haveDpi);
        a.Label(ref none);
        a.pop(rdi);
        a.pop(rsi);
    }

    private void EmitConfigure(Label paint)
    {
        var g = _runtime.Assembly;
        var a = g.Asm;
        var done = a.CreateLabel("gpu_configure_done");
        var haveDpi = a.CreateLabel("gpu_configure_have_dpi");
        var unitOk = a.CreateLabel("gpu_configure_unit_ok");
        var noOld = a.CreateLabel("gpu_configure_no_old");
        var refused = a.CreateLabel("gpu_configure_refused");
        var refusedAfterCreate = a.CreateLabel("gpu_configure_refused_after_create");
        g.Bind(ref _configure);
        a.push(rbx);
        a.push(rbp);
        // The shown mode, restored if the GPU refuses the new one (e.g. its backing is not all RAM).
        a.sub(rsp, 16);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.mov(__dword_ptr[rsp], eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.mov(__dword_ptr[rsp + 4], eax);
        a.mov(eax, __dword_ptr[_state.Dpi]);
        a.mov(__dword_ptr[rsp + 8], eax);
        a.mov(eax, __dword_ptr[_state.Unit]);
        a.mov(__dword_ptr[rsp + 12], eax);

        _commands.EmitBegin(GetDisplayInfo);
        _commands.EmitSubmit(24);
        a.mov(eax, __dword_ptr[r11 + 32]);
        a.mov(ecx, __dword_ptr[r11 + 36]);
        a.test(eax, eax);
        a.jz(done);
        a.test(ecx, ecx);
        a.jz(done);
        a.mov(__dword_ptr[_state.Width], eax);
        a.mov(__dword_ptr[_state.Height], ecx);

        // DPI = width px × 25.4 / width mm, rounded; 96 without an EDID size. A DisplayID extension's Display
        // Parameters block gives the width in 0.1 mm and wins: whole millimetres cannot carry every DPI.
        _commands.EmitBegin(GetEdid);
        _commands.EmitSubmit(32);
        a.mov(ebx, 96);
        a.cmp(eax, ResponseOkEdid);
        a.jne(haveDpi);
        EmitDisplayIdDpi(haveDpi);
        a.movzx(ecx, __byte_ptr[r11 + 32 + 68]);
        a.and(ecx, 0xF0);
        a.shl(ecx, 4);
        a.movzx(eax, __byte_ptr[r11 + 32 + 66]);
        a.or(ecx, eax);
        a.jz(haveDpi);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.imul(eax, eax, 254);
        a.lea(edx, __[rcx + rcx * 4]);
        a.add(eax, edx);           // + mm·5 rounds
        a.add(ecx, ecx);
        a.lea(ecx, __[rcx + rcx * 4]); // mm·10
        a.xor(edx, edx);
        a.div(ecx);
        a.mov(ebx, eax);
        a.Label(ref haveDpi);
        a.mov(__dword_ptr[_state.Dpi], ebx);

        // unit = max(2, round(dpi / 48)), capped at width / BarWidthUnits (the top bar's longest line fits any width the
        // device accepts, down to one dot per unit) and height / 50, so the layout always fits.
        a.lea(eax, __[rbx + 24]);
        a.xor(edx, edx);
        a.mov(ecx, 48);
        a.div(ecx);
        a.cmp(eax, 2);
        a.jae(unitOk);
        a.mov(eax, 2);
        a.Label(ref unitOk);
        a.mov(ebx, eax);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.xor(edx, edx);
        a.mov(ecx, DesktopLayout.BarWidthUnits);
        a.div(ecx);
        a.cmp(ebx, eax);
        a.cmova(ebx, eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.xor(edx, edx);
        a.mov(ecx, 50);
        a.div(ecx);
        a.cmp(ebx, eax);
        a.cmova(ebx, eax);
        a.mov(__dword_ptr[_state.Unit], ebx);

        // The new resource: id 2 or 3, whichever is not shown.
        a.mov(ebp, 2);
        a.cmp(__dword_ptr[_state.ResourceId], 2);
        a.jne(noOld);
        a.mov(ebp, 3);
        a.Label(ref noOld);
        _commands.EmitBegin(ResourceCreate2d);
        a.mov(Field(24), ebp);
        a.mov(Field(28), 2u); // B8G8R8X8
        EmitFullFrameRect();
        _commands.EmitSubmit(40);
        a.cmp(eax, ResponseOkNoData);
        a.jne(refused);
        EmitAttachBacking(() => a.mov(eax, ebp), () => a.mov(eax, DesktopMemoryMap.Framebuffer), () =>
        {
            a.mov(eax, __dword_ptr[_state.Width]);
            a.imul(eax, __dword_ptr[_state.Height]);
            a.shl(eax, 2);
        });
        a.cmp(eax, ResponseOkNoData);
        a.jne(refusedAfterCreate);
        a.mov(ebx, __dword_ptr[_state.ResourceId]); // old
        a.mov(__dword_ptr[_state.ResourceId], ebp);

        a.call(paint);
        EmitTransferSetScanoutFlush();

        var noUnref = a.CreateLabel("gpu_configure_no_unref");
        a.test(ebx, ebx);
        a.jz(noUnref);
        _commands.EmitBegin(ResourceUnref);
        a.mov(Field(24), ebx);
        _commands.EmitSubmit(32);
        a.Label(ref noUnref);

        var serial = _runtime.Serial;
        serial.EmitPrint("desktop ");
        a.mov(eax, __dword_ptr[_state.Width]);
        a.call(serial.PutDecimal);
        serial.EmitPrintChar('x');
        a.mov(eax, __dword_ptr[_state.Height]);
        a.call(serial.PutDecimal);
        serial.EmitPrint(" @ ");
        a.mov(eax, __dword_ptr[_state.Dpi]);
        a.call(serial.PutDecimal);
        serial.EmitPrint(" dpi\n");
        a.jmp(done);

        // Refused: drop the new resource, say so, and keep showing the old mode with its geometry.
        a.Label(ref refusedAfterCreate);
        _commands.EmitBegin(ResourceUnref);
        a.mov(Field(24), ebp);
        _commands.EmitSubmit(32);
        a.Label(ref refused);
        serial.EmitPrint("desktop: the GPU refused ");
        a.mov(eax, __dword_ptr[_state.Width]);
        a.call(serial.PutDecimal);
        serial.EmitPrintChar('x');
        a.mov(eax, __dword_ptr[_state.Height]);
        a.call(serial.PutDecimal);
        serial.EmitPrint(" (framebuffer beyond RAM?)\n");
        a.mov(eax, __dword_ptr[rsp]);
        a.mov(__dword_ptr[_state.Width], eax);
        a.mov(eax, __dword_ptr[rsp + 4]);
        a.mov(__dword_ptr[_state.Height], eax);
        a.mov(eax, __dword_ptr[rsp + 8]);
        a.mov(__dword_ptr[_state.Dpi], eax);
        a.mov(eax, __dword_ptr[rsp + 12]);
        a.mov(__dword_ptr[_state.Unit], eax);
        a.Label(ref done);
        a.add(rsp, 16);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>The mode's size at offsets 32 and 36: the whole-frame rectangle of SET_SCANOUT, TRANSFER and FLUSH (x, y left 0), and the size of RESOURCE_CREATE_2D.</summary>
    private void EmitFullFrameRect()
    {
        var a = _runtime.Assembly.Asm;
        a.mov(eax, __dword_ptr[_state.Width]);
        a.mov(Field(32), eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.mov(Field(36), eax);
    }

    /// <summary>Full frame: transfer, SET_SCANOUT to resource ebp, flush.</summary>
    private void EmitTransferSetScanoutFlush()
    {
        var a = _runtime.Assembly.Asm;
        _commands.EmitBegin(TransferToHost2d);
        EmitFullFrameRect();
        a.mov(Field(48), ebp);
        _commands.EmitSubmit(56);

        _commands.EmitBegin(SetScanout);
        EmitFullFrameRect();
        a.mov(Field(44), ebp);
        _commands.EmitSubmit(48);

        _commands.EmitBegin(ResourceFlush);
        EmitFullFrameRect();
        a.mov(Field(40), ebp);
        _commands.EmitSubmit(48);
    }
}
