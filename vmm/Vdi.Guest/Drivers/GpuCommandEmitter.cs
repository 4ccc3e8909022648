using Iced.Intel;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Drivers;

/// <summary>
/// virtio-gpu requests, built at <see cref="DesktopMemoryMap.GpuRequest"/> (control queue, answered at
/// <see cref="DesktopMemoryMap.GpuResponse"/>) or <see cref="DesktopMemoryMap.CursorRequest"/> (cursor queue), and
/// submitted synchronously through <see cref="VirtioMmioEmitter.Submit"/>.
/// </summary>
internal sealed class GpuCommandEmitter
{
    public const uint GetDisplayInfo = 0x0100;
    public const uint ResourceCreate2d = 0x0101;
    public const uint ResourceUnref = 0x0102;
    public const uint SetScanout = 0x0103;
    public const uint ResourceFlush = 0x0104;
    public const uint TransferToHost2d = 0x0105;
    public const uint ResourceAttachBacking = 0x0106;
    public const uint GetEdid = 0x010A;
    public const uint UpdateCursor = 0x0300;
    public const uint MoveCursor = 0x0301;
    public const uint ResponseOkNoData = 0x1100;
    public const uint ResponseOkEdid = 0x1104;
    public const uint CursorResourceId = 1;
    public const int EdidFeatureBit = 1;

    private readonly GuestAssembly _g;
    private readonly VirtioMmioEmitter _virtio;
    private readonly DesktopState _state;
    private Label _command;
    private Label _cursorCommand;
    private Label _flushRect;
    private Label _moveCursor;

    public GpuCommandEmitter(GuestAssembly g, VirtioMmioEmitter virtio, DesktopState state)
    {
        _g = g;
        _virtio = virtio;
        _state = state;
        _command = g.CreateLabel("gpu_command");
        _cursorCommand = g.CreateLabel("gpu_cursor_command");
        _flushRect = g.CreateLabel("gpu_flush_rect");
        _moveCursor = g.CreateLabel("gpu_move_cursor");
    }

    public static uint Window => (uint)MmioMap.VirtioAddress(MmioMap.GpuSlot);

    /// <summary><c>gpu_flush_rect(edi = x, esi = y, edx = width, ecx = height)</c>: TRANSFER_TO_HOST_2D + RESOURCE_FLUSH of the shown resource.</summary>
    public Label FlushRect => _flushRect;

    /// <summary><c>gpu_move_cursor(edi = x, esi = y)</c>: MOVE_CURSOR.</summary>
    public Label MoveCursorRoutine => _moveCursor;

    /// <summary>
    /// Starts a control request of <paramref name="type"/>: zeroes 64 bytes at the request buffer and sets the header's
    /// type. Leaves r11 = request buffer for <see cref="Field"/>. Clobbers rax, rcx, rdi.
    /// </summary>
    public void EmitBegin(uint type, uint buffer = DesktopMemoryMap.GpuRequest)
    {
        var a = _g.Asm;
        a.mov(r11d, buffer);
        a.mov(rdi, r11);
        a.xor(eax, eax);
        a.mov(ecx, 16);
        a.rep.stosd();
        a.mov(__dword_ptr[r11], type);
    }

    /// <summary>A dword of the request being built (after <see cref="EmitBegin"/>).</summary>
    public static AssemblerMemoryOperand Field(int offset) => __dword_ptr[r11 + offset];

    /// <summary>Submits the control request of <paramref name="length"/> bytes and waits; eax = response type (0 when the device gave no answer).</summary>
    public void EmitSubmit(int length)
    {
        _g.Asm.mov(edx, length);
        _g.Asm.call(_command);
    }

    /// <summary>Submits the cursor request (56 bytes) and waits.</summary>
    public void EmitSubmitCursor() => _g.Asm.call(_cursorCommand);

    public void EmitRoutines()
    {
        var a = _g.Asm;
        _g.Bind(ref _command); // edx = request length
        a.mov(__dword_ptr[DesktopMemoryMap.GpuResponse], 0); // a device that needs a reset answers nothing
        a.mov(edi, DesktopMemoryMap.GpuControlQueue);
        a.mov(esi, DesktopMemoryMap.GpuRequest);
        a.mov(ecx, DesktopMemoryMap.GpuResponse);
        a.mov(r8d, 0x1000);
        a.mov(r9d, Window);
        a.xor(r10d, r10d);
        a.call(_virtio.Submit);
        a.mov(r11d, DesktopMemoryMap.GpuResponse);
        a.mov(eax, __dword_ptr[r11]);
        a.ret();

        _g.Bind(ref _cursorCommand);
        a.mov(edi, DesktopMemoryMap.GpuCursorQueue);
        a.mov(esi, DesktopMemoryMap.CursorRequest);
        a.mov(edx, 56);
        a.xor(ecx, ecx);
        a.xor(r8d, r8d);
        a.mov(r9d, Window);
        a.mov(r10d, 1);
        a.call(_virtio.Submit);
        a.ret();

        EmitFlushRect();
        EmitMoveCursor();
    }

    private void EmitFlushRect()
    {
        var a = _g.Asm;
        var done = a.CreateLabel("gpu_flush_rect_done");
        _g.Bind(ref _flushRect);
        a.cmp(__dword_ptr[_state.ResourceId], 0);
        a.je(done);
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.mov(ebx, edi);
        a.mov(ebp, esi);
        a.mov(r12d, edx);
        a.mov(r13d, ecx);

        EmitBegin(TransferToHost2d);
        EmitRect();
        a.mov(eax, ebp);
        a.imul(eax, __dword_ptr[_state.Width]);
        a.add(eax, ebx);
        a.shl(rax, 2);
        a.mov(__qword_ptr[r11 + 40], rax);
        a.mov(eax, __dword_ptr[_state.ResourceId]);
        a.mov(Field(48), eax);
        EmitSubmit(56);

        EmitBegin(ResourceFlush);
        EmitRect();
        a.mov(eax, __dword_ptr[_state.ResourceId]);
        a.mov(Field(40), eax);
        EmitSubmit(48);

        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.Label(ref done);
        a.ret();
    }

    /// <summary>The rectangle (ebx, ebp, r12d, r13d) at offset 24.</summary>
    private void EmitRect()
    {
        var a = _g.Asm;
        a.mov(Field(24), ebx);
        a.mov(Field(28), ebp);
        a.mov(Field(32), r12d);
        a.mov(Field(36), r13d);
    }

    private void EmitMoveCursor()
    {
        var a = _g.Asm;
        _g.Bind(ref _moveCursor);
        a.mov(r8d, edi);
        a.mov(r9d, esi);
        EmitBegin(MoveCursor, DesktopMemoryMap.CursorRequest);
        a.mov(Field(28), r8d);
        a.mov(Field(32), r9d);
        a.mov(Field(40), CursorResourceId);
        EmitSubmitCursor();
        a.ret();
    }
}
