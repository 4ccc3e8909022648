using Iced.Intel;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Guest.Desktop;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Guest.Drivers.GpuCommandEmitter;

namespace Vdi.Vmm.Guest.Drivers;

/// <summary>
/// The virtio-gpu driver: <see cref="Start"/> brings the device up and defines the cursor; <see cref="Configure"/>
/// follows the display the device reports (GET_DISPLAY_INFO, GET_EDID → DPI), builds a new resource backed by the
/// framebuffer, has the desktop painted, transfers it, points the scanout at it, flushes the full frame and drops the
/// old resource. Resource ids alternate 2 and 3 (1 is the cursor).
/// </summary>
internal sealed class GpuDriverEmitter
{
    private readonly GuestRuntime _runtime;
    private readonly GpuCommandEmitter _commands;
    private readonly VirtioMmioEmitter _virtio;
    private readonly DesktopState _state;
    private readonly Label _arrow;
    private Label _start;
    private Label _configure;

    public GpuDriverEmitter(GuestRuntime runtime, VirtioMmioEmitter virtio, GpuCommandEmitter commands, DesktopState state)
    {
        _runtime = runtime;
        _virtio = virtio;
        _commands = commands;
        _state = state;
        _arrow = runtime.Assembly.Data("cursor_arrow", CursorArrow.Build(), 8);
        _start = runtime.Assembly.CreateLabel("gpu_start");
        _configure = runtime.Assembly.CreateLabel("gpu_configure");
    }

    /// <summary><c>gpu_start()</c> → eax = 0 when the GPU is live and the cursor defined (see <see cref="VirtioMmioEmitter.Init"/>).</summary>
    public Label Start => _start;

    /// <summary><c>gpu_configure()</c>: shows the device's current mode (calls <paramref name="paint"/> of <see cref="EmitRoutines"/>).</summary>
    public Label Configure => _configure;

    public void EmitRoutines(Label paint)
    {
        EmitStart();
        EmitConfigure(paint);
    }

    private void EmitStart()
    {
        var a = _runtime.Assembly.Asm;
        var done = a.CreateLabel("gpu_start_done");
        var copyRow = a.CreateLabel("gpu_start_cursor_row");
        _runtime.Assembly.Bind(ref _start);
        a.mov(edi, Window);
        a.mov(esi, VirtioDeviceIds.Gpu);
        a.mov(edx, 1 << EdidFeatureBit);
        a.mov(ecx, 2);
        a.mov(r8d, DesktopMemoryMap.GpuControlQueue);
        a.call(_virtio.Init);
        a.test(eax, eax);
        a.jnz(done);

        // The cursor image: transparent, with the arrow copied into its top-left corner.
        a.mov(edi, DesktopMemoryMap.CursorImage);
        a.xor(eax, eax);
        a.mov(ecx, DesktopMemoryMap.CursorSize * DesktopMemoryMap.CursorSize);
        a.rep.stosd();
        a.lea(rsi, __[_arrow]);
        a.mov(edx, DesktopMemoryMap.CursorImage);
        a.mov(r8d, CursorArrow.Height);
        a.Label(ref copyRow);
        a.mov(rdi, rdx);
        a.mov(ecx, CursorArrow.Width);
        a.rep.movsd();
        a.add(rdx, DesktopMemoryMap.CursorSize * 4);
        a.dec(r8d);
        a.jnz(copyRow);

        _commands.EmitBegin(ResourceCreate2d);
        a.mov(Field(24), CursorResourceId);
        a.mov(Field(28), 1u); // B8G8R8A8: the cursor has alpha
        a.mov(Field(32), (uint)DesktopMemoryMap.CursorSize);
        a.mov(Field(36), (uint)DesktopMemoryMap.CursorSize);
        _commands.EmitSubmit(40);
        EmitAttachBacking(() => a.mov(eax, CursorResourceId), () => a.mov(eax, DesktopMemoryMap.CursorImage), () => a.mov(eax, DesktopMemoryMap.CursorSize * DesktopMemoryMap.CursorSize * 4));
        _commands.EmitBegin(TransferToHost2d);
        a.mov(Field(32), (uint)DesktopMemoryMap.CursorSize);
        a.mov(Field(36), (uint)DesktopMemoryMap.CursorSize);
        a.mov(Field(48), CursorResourceId);
        _commands.EmitSubmit(56);
        _commands.EmitBegin(UpdateCursor, DesktopMemoryMap.CursorRequest);
        a.mov(Field(40), CursorResourceId);
        _commands.EmitSubmitCursor();
        a.xor(eax, eax);
        a.Label(ref done);
        a.ret();
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

    private void EmitConfigure(Label paint)
    {
        var g = _runtime.Assembly;
        var a = g.Asm;
        var done = a.CreateLabel("gpu_configure_done");
        var haveDpi = a.CreateLabel("gpu_configure_have_dpi");
        var unitOk = a.CreateLabel("gpu_configure_unit_ok");
        var noOld = a.CreateLabel("gpu_configure_no_old");
        g.Bind(ref _configure);
        a.push(rbx);
        a.push(rbp);

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

        // DPI = width px × 25.4 / width mm, rounded; 96 without an EDID size.
        _commands.EmitBegin(GetEdid);
        _commands.EmitSubmit(32);
        a.mov(ebx, 96);
        a.cmp(eax, ResponseOkEdid);
        a.jne(haveDpi);
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

        // unit = max(2, round(dpi / 48)), capped at width/40 and height/30 so the layout always fits.
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
        a.mov(ecx, 40);
        a.div(ecx);
        a.cmp(ebx, eax);
        a.cmova(ebx, eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.xor(edx, edx);
        a.mov(ecx, 30);
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
        a.mov(eax, __dword_ptr[_state.Width]);
        a.mov(Field(32), eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.mov(Field(36), eax);
        _commands.EmitSubmit(40);
        EmitAttachBacking(() => a.mov(eax, ebp), () => a.mov(eax, DesktopMemoryMap.Framebuffer), () =>
        {
            a.mov(eax, __dword_ptr[_state.Width]);
            a.imul(eax, __dword_ptr[_state.Height]);
            a.shl(eax, 2);
        });
        a.mov(ebx, __dword_ptr[_state.ResourceId]); // old
        a.mov(__dword_ptr[_state.ResourceId], ebp);

        a.call(paint);
        a.xor(edi, edi);
        a.xor(esi, esi);
        a.mov(edx, __dword_ptr[_state.Width]);
        a.mov(ecx, __dword_ptr[_state.Height]);
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
        a.Label(ref done);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>Full frame (edi, esi, edx, ecx = 0, 0, w, h): transfer, SET_SCANOUT to resource ebp, flush.</summary>
    private void EmitTransferSetScanoutFlush()
    {
        var a = _runtime.Assembly.Asm;
        _commands.EmitBegin(TransferToHost2d);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.mov(Field(32), eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.mov(Field(36), eax);
        a.mov(Field(48), ebp);
        _commands.EmitSubmit(56);

        _commands.EmitBegin(SetScanout);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.mov(Field(32), eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.mov(Field(36), eax);
        a.mov(Field(44), ebp);
        _commands.EmitSubmit(48);

        _commands.EmitBegin(ResourceFlush);
        a.mov(eax, __dword_ptr[_state.Width]);
        a.mov(Field(32), eax);
        a.mov(eax, __dword_ptr[_state.Height]);
        a.mov(Field(36), eax);
        a.mov(Field(40), ebp);
        _commands.EmitSubmit(48);
    }
}
