using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Virtio;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Guest.Drivers.GpuCommandEmitter;

namespace Vdi.Guest.Drivers;

/// <summary>Bringing the GPU up: virtio initialisation and the cursor (resource 1, 64×64 B8G8R8A8, the arrow of <see cref="CursorArrow"/>).</summary>
internal sealed partial class GpuDriverEmitter
{
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
