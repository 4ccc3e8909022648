using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Virtio;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Guest.Drivers.GpuCommandEmitter;

namespace Vdi.Guest.Drivers;

/// <summary>
/// Bringing the GPU up: virtio initialisation and the cursor (resource 1, 64×64 B8G8R8A8, the arrow of
/// <see cref="CursorArrow"/>); and bringing it back when it asks for a reset.
/// </summary>
internal sealed partial class GpuDriverEmitter
{
    /// <summary>
    /// A device that broke down — the VMM refused one of its writes to guest memory (a protected page), or the driver
    /// broke the contract — sets DEVICE_NEEDS_RESET and answers nothing until it is reset, and it forgets every
    /// resource then. Reset and start it again, show the mode again (a new resource, a full repaint) and put the cursor
    /// back where the pointer is. Prints one line on COM1. Clobbers what the drivers' routines do.
    /// </summary>
    private void EmitRecover()
    {
        var a = _runtime.Assembly.Asm;
        var serial = _runtime.Serial;
        var done = a.CreateLabel("gpu_recover_done");
        var failed = a.CreateLabel("gpu_recover_failed");
        _runtime.Assembly.Bind(ref _recover);
        a.mov(eax, Window);
        a.mov(ecx, __dword_ptr[rax + VirtioMmio.RegStatus]);
        a.test(ecx, VirtioMmio.StatusDeviceNeedsReset);
        a.jz(done);
        serial.EmitPrint("desktop: virtio-gpu needs a reset, restarting it\n");
        a.mov(__dword_ptr[_state.ResourceId], 0); // no resource survives the reset
        a.call(_start);
        a.test(eax, eax);
        a.jnz(failed);
        a.call(_configure);
        a.mov(edi, __dword_ptr[_state.PointerX]);
        a.mov(esi, __dword_ptr[_state.PointerY]);
        a.call(_commands.MoveCursorRoutine);
        a.ret();
        a.Label(ref failed);
        serial.EmitPrint("desktop: virtio-gpu did not come back, error ");
        a.call(serial.PutDecimal);
        serial.EmitPrintChar('\n');
        a.Label(ref done);
        a.ret();
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
}
