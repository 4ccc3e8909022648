using Iced.Intel;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Drivers;

/// <summary>
/// virtio-input drivers for the keyboard and the tablet: each gets its eventq filled with 64 eight-byte buffers
/// ({u16 type, u16 code, u32 value}). <see cref="Poll"/> consumes every used buffer and posts it again. Keys
/// (EV_KEY, press or repeat) go through <see cref="UsKeymap"/> (with either Shift) to the terminal; the tablet's
/// EV_ABS X/Y are collected and, at EV_SYN, the cursor is moved there.
/// </summary>
internal sealed class InputDriverEmitter
{
    private const ushort EvSyn = 0, EvKey = 1, EvAbs = 3;
    private const ushort AbsX = 0, AbsY = 1;

    private readonly GuestAssembly _g;
    private readonly VirtioMmioEmitter _virtio;
    private readonly DesktopState _state;
    private readonly Label _keymap;
    private Label _start;
    private Label _poll;

    public InputDriverEmitter(GuestAssembly g, VirtioMmioEmitter virtio, DesktopState state)
    {
        _g = g;
        _virtio = virtio;
        _state = state;
        _keymap = g.Data("keymap", UsKeymap.Build(), 8);
        _start = g.CreateLabel("input_start");
        _poll = g.CreateLabel("input_poll");
    }

    public static uint KeyboardWindow => (uint)MmioMap.VirtioAddress(MmioMap.KeyboardSlot);

    public static uint TabletWindow => (uint)MmioMap.VirtioAddress(MmioMap.TabletSlot);

    /// <summary><c>input_start()</c>: brings up both devices (one that is missing is skipped) and posts their buffers.</summary>
    public Label Start => _start;

    /// <summary><c>input_poll()</c>: handles every event the devices delivered.</summary>
    public Label Poll => _poll;

    public void EmitRoutines(Label typeKey, Label moveCursor)
    {
        EmitStart();
        var a = _g.Asm;
        _g.Bind(ref _poll);
        a.push(rbx);
        a.push(rbp);
        EmitDrain("keyboard", DesktopMemoryMap.KeyboardEventQueue, DesktopMemoryMap.KeyboardEvents, KeyboardWindow, () => EmitKey(typeKey));
        EmitDrain("tablet", DesktopMemoryMap.TabletEventQueue, DesktopMemoryMap.TabletEvents, TabletWindow, () => EmitPointer(moveCursor));
        a.pop(rbp);
        a.pop(rbx);
        a.ret();
    }

    private void EmitStart()
    {
        var a = _g.Asm;
        _g.Bind(ref _start);
        foreach (var (name, window, queue, buffers) in (ReadOnlySpan<(string, uint, uint, uint)>)[
            ("keyboard", KeyboardWindow, DesktopMemoryMap.KeyboardEventQueue, DesktopMemoryMap.KeyboardEvents),
            ("tablet", TabletWindow, DesktopMemoryMap.TabletEventQueue, DesktopMemoryMap.TabletEvents)])
        {
            var skip = a.CreateLabel($"input_start_{name}_done");
            a.mov(edi, window);
            a.mov(esi, VirtioDeviceIds.Input);
            a.xor(edx, edx);
            a.mov(ecx, 1);
            a.mov(r8d, queue);
            a.call(_virtio.Init);
            a.test(eax, eax);
            a.jnz(skip);
            a.mov(edi, queue);
            a.mov(esi, buffers);
            a.mov(r9d, window);
            a.xor(r10d, r10d);
            a.call(_virtio.PostBuffers);
            a.Label(ref skip);
        }
        a.ret();
    }

    /// <summary>
    /// Loops over used buffers of one eventq: the handler's code sees rcx = the event, may call routines and must fall
    /// through at its end. Every buffer is posted again, with one notify at the end. Uses ebx (descriptor id), ebp.
    /// </summary>
    private void EmitDrain(string name, uint queue, uint buffers, uint window, Action handleEvent)
    {
        var a = _g.Asm;
        var loop = a.CreateLabel($"input_{name}_loop");
        var done = a.CreateLabel($"input_{name}_done");
        var noNotify = a.CreateLabel($"input_{name}_no_notify");
        a.xor(ebp, ebp);
        a.Label(ref loop);
        a.mov(edi, queue);
        a.call(_virtio.NextUsed);
        a.cmp(eax, -1);
        a.je(done);
        a.mov(ebx, eax);
        a.and(eax, DesktopMemoryMap.QueueSize - 1);
        a.lea(rcx, __[rax * 8 + (int)buffers]);
        handleEvent();
        a.mov(edi, queue);
        a.mov(esi, ebx);
        a.call(_virtio.Repost);
        a.mov(ebp, 1);
        a.jmp(loop);
        a.Label(ref done);
        a.test(ebp, ebp);
        a.jz(noNotify);
        a.mov(eax, window);
        a.mov(__dword_ptr[rax + VirtioMmio.RegQueueNotify], 0u);
        a.Label(ref noNotify);
    }

    private void EmitKey(Label typeKey)
    {
        var a = _g.Asm;
        var shift = a.CreateLabel("input_key_shift");
        var done = a.CreateLabel("input_key_done");
        a.cmp(__word_ptr[rcx], EvKey);
        a.jne(done);
        a.movzx(edx, __word_ptr[rcx + 2]);
        a.mov(eax, __dword_ptr[rcx + 4]);
        a.cmp(edx, UsKeymap.KeyLeftShift);
        a.je(shift);
        a.cmp(edx, UsKeymap.KeyRightShift);
        a.je(shift);
        a.cmp(eax, 1); // press
        a.jb(done);
        a.cmp(eax, 2); // repeat
        a.ja(done);
        a.cmp(edx, UsKeymap.Codes);
        a.jae(done);
        a.mov(eax, __dword_ptr[_state.Shift]);
        a.shl(eax, 7);
        a.add(eax, edx);
        a.lea(rcx, __[_keymap]);
        a.movzx(edi, __byte_ptr[rcx + rax]);
        a.test(edi, edi);
        a.jz(done);
        a.call(typeKey);
        a.jmp(done);
        a.Label(ref shift);
        a.mov(__dword_ptr[_state.Shift], 0);
        a.test(eax, eax);
        a.jz(done);
        a.mov(__dword_ptr[_state.Shift], 1);
        a.Label(ref done);
    }

    private void EmitPointer(Label moveCursor)
    {
        var a = _g.Asm;
        var abs = a.CreateLabel("input_pointer_abs");
        var notX = a.CreateLabel("input_pointer_not_x");
        var done = a.CreateLabel("input_pointer_done");
        a.movzx(edx, __word_ptr[rcx]);
        a.cmp(edx, EvAbs);
        a.je(abs);
        a.cmp(edx, EvSyn);
        a.jne(done);
        a.cmp(__dword_ptr[_state.PointerMoved], 0);
        a.je(done);
        a.mov(__dword_ptr[_state.PointerMoved], 0);
        a.mov(edi, __dword_ptr[_state.PointerX]);
        a.mov(esi, __dword_ptr[_state.PointerY]);
        a.call(moveCursor);
        a.jmp(done);

        a.Label(ref abs);
        a.movzx(edx, __word_ptr[rcx + 2]);
        a.mov(eax, __dword_ptr[rcx + 4]);
        a.cmp(edx, AbsX);
        a.jne(notX);
        a.mov(__dword_ptr[_state.PointerX], eax);
        a.mov(__dword_ptr[_state.PointerMoved], 1);
        a.jmp(done);
        a.Label(ref notX);
        a.cmp(edx, AbsY);
        a.jne(done);
        a.mov(__dword_ptr[_state.PointerY], eax);
        a.mov(__dword_ptr[_state.PointerMoved], 1);
        a.Label(ref done);
    }
}
