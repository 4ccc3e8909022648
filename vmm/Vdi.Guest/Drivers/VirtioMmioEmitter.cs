using Iced.Intel;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest.Drivers;

/// <summary>
/// Guest routines for virtio-mmio (version 2) devices and split virtqueues of <see cref="DesktopMemoryMap.QueueSize"/>
/// entries laid out in one page each (see <see cref="DesktopMemoryMap"/>). Calling convention for every routine here and
/// in the other drivers: arguments in rdi, rsi, rdx, rcx, r8, r9, r10; rbx, rbp and r12–r15 are preserved; rax, rcx,
/// rdx, rsi, rdi and r8–r11 are clobbered.
/// </summary>
internal sealed class VirtioMmioEmitter
{
    public const ushort DescriptorNext = 1;
    public const ushort DescriptorWrite = 2;

    private readonly GuestAssembly _g;
    private Label _init;
    private Label _submit;
    private Label _postBuffers;
    private Label _nextUsed;
    private Label _repost;

    public VirtioMmioEmitter(GuestAssembly g)
    {
        _g = g;
        _init = g.CreateLabel("virtio_init");
        _submit = g.CreateLabel("virtq_submit");
        _postBuffers = g.CreateLabel("virtq_post_buffers");
        _nextUsed = g.CreateLabel("virtq_next_used");
        _repost = g.CreateLabel("virtq_repost");
    }

    /// <summary>
    /// <c>virtio_init(rdi = window, esi = device id, edx = wanted feature bits 0–31, ecx = queues, r8 = first queue page)</c>
    /// → eax = 0 when the device is live (DRIVER_OK), else 1 no device, 2 no VERSION_1, 3 FEATURES_OK refused,
    /// 4 queue too small. Queue n uses page r8 + n·0x1000, which is zeroed first.
    /// </summary>
    public Label Init => _init;

    /// <summary>
    /// <c>virtq_submit(rdi = queue page, rsi = request, edx = request length, rcx = response, r8d = response length
    /// (0: none), r9 = window, r10d = queue index)</c>: one request at a time on descriptors 0 and 1; notifies and waits
    /// (with <c>pause</c>) until the device has used it, or gives up when the device asks for a reset
    /// (DEVICE_NEEDS_RESET: it will never use it). The devices answer during the notify, so the wait normally ends
    /// before the first <c>pause</c> and the status register is read only when something went wrong.
    /// </summary>
    public Label Submit => _submit;

    /// <summary><c>virtq_post_buffers(rdi = queue page, rsi = 64 eight-byte buffers, r9 = window, r10d = queue)</c>: posts them all device-writable and notifies.</summary>
    public Label PostBuffers => _postBuffers;

    /// <summary><c>virtq_next_used(rdi = queue page)</c> → eax = descriptor id of the next used buffer (consumed), or −1.</summary>
    public Label NextUsed => _nextUsed;

    /// <summary><c>virtq_repost(rdi = queue page, esi = descriptor id)</c>: makes the buffer available again (no notify).</summary>
    public Label Repost => _repost;

    public void EmitRoutines()
    {
        EmitInit();
        EmitSubmit();
        EmitPostBuffers();
        EmitNextUsed();
        EmitRepost();
    }

    private void EmitInit()
    {
        var a = _g.Asm;
        var fail = a.CreateLabel("virtio_init_fail");
        var queueLoop = a.CreateLabel("virtio_init_queue");
        var queuesDone = a.CreateLabel("virtio_init_queues_done");
        _g.Bind(ref _init);
        a.push(rbx);
        a.mov(r11d, ecx); // queues left
        a.mov(r10d, edx); // wanted features
        // Registers are read with plain movs: KVM emulates every MMIO access, and mov is its simplest case.
        a.mov(eax, 1);
        a.mov(ecx, __dword_ptr[rdi + VirtioMmio.RegMagic]);
        a.cmp(ecx, VirtioMmio.MagicValue);
        a.jne(fail);
        a.mov(ecx, __dword_ptr[rdi + VirtioMmio.RegVersion]);
        a.cmp(ecx, VirtioMmio.Version);
        a.jne(fail);
        a.mov(ecx, __dword_ptr[rdi + VirtioMmio.RegDeviceId]);
        a.cmp(ecx, esi);
        a.jne(fail);

        a.mov(__dword_ptr[rdi + VirtioMmio.RegStatus], 0u);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegStatus], VirtioMmio.StatusAcknowledge);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegStatus], VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver);
        a.mov(eax, 2);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegDeviceFeaturesSel], 1u);
        a.mov(ecx, __dword_ptr[rdi + VirtioMmio.RegDeviceFeatures]);
        a.test(ecx, 1u << (VirtioMmio.FeatureVersion1 - 32));
        a.jz(fail);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegDeviceFeaturesSel], 0u);
        a.mov(edx, __dword_ptr[rdi + VirtioMmio.RegDeviceFeatures]);
        a.and(edx, r10d);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegDriverFeaturesSel], 0u);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegDriverFeatures], edx);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegDriverFeaturesSel], 1u);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegDriverFeatures], 1u << (VirtioMmio.FeatureVersion1 - 32));
        a.mov(__dword_ptr[rdi + VirtioMmio.RegStatus], VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver | VirtioMmio.StatusFeaturesOk);
        a.mov(eax, 3);
        a.mov(ecx, __dword_ptr[rdi + VirtioMmio.RegStatus]);
        a.test(ecx, VirtioMmio.StatusFeaturesOk);
        a.jz(fail);

        a.xor(ebx, ebx); // queue index
        a.Label(ref queueLoop);
        a.cmp(ebx, r11d);
        a.jae(queuesDone);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueSel], ebx);
        a.mov(eax, 4);
        a.mov(ecx, __dword_ptr[rdi + VirtioMmio.RegQueueNumMax]);
        a.cmp(ecx, DesktopMemoryMap.QueueSize);
        a.jb(fail);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueNum], (uint)DesktopMemoryMap.QueueSize);
        EmitZeroPage(); // r8's page
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueDescLow], r8d);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueDescHigh], 0u);
        a.lea(eax, __[r8 + DesktopMemoryMap.AvailOffset]);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueDriverLow], eax);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueDriverHigh], 0u);
        a.lea(eax, __[r8 + DesktopMemoryMap.UsedOffset]);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueDeviceLow], eax);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueDeviceHigh], 0u);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegQueueReady], 1u);
        a.add(r8, DesktopMemoryMap.QueuePage);
        a.inc(ebx);
        a.jmp(queueLoop);

        a.Label(ref queuesDone);
        a.mov(__dword_ptr[rdi + VirtioMmio.RegStatus], VirtioMmio.StatusAcknowledge | VirtioMmio.StatusDriver | VirtioMmio.StatusFeaturesOk | VirtioMmio.StatusDriverOk);
        a.xor(eax, eax);
        a.Label(ref fail);
        a.pop(rbx);
        a.ret();
    }

    /// <summary>Zeroes the 4 KiB page at r8 with <c>rep stosd</c>; keeps rdi.</summary>
    private void EmitZeroPage()
    {
        var a = _g.Asm;
        a.push(rdi);
        a.mov(rdi, r8);
        a.mov(ecx, DesktopMemoryMap.QueuePage / 4);
        a.xor(eax, eax);
        a.rep.stosd();
        a.pop(rdi);
    }

    private void EmitSubmit()
    {
        var a = _g.Asm;
        var twoDescriptors = a.CreateLabel("virtq_submit_two");
        var publish = a.CreateLabel("virtq_submit_publish");
        var wait = a.CreateLabel("virtq_submit_wait");
        var check = a.CreateLabel("virtq_submit_check");
        var gaveUp = a.CreateLabel("virtq_submit_gave_up");
        _g.Bind(ref _submit);
        a.mov(__qword_ptr[rdi], rsi);
        a.mov(__dword_ptr[rdi + 8], edx);
        a.mov(__word_ptr[rdi + 14], 1);
        a.test(r8d, r8d);
        a.jnz(twoDescriptors);
        a.mov(__word_ptr[rdi + 12], 0);
        a.jmp(publish);
        a.Label(ref twoDescriptors);
        a.mov(__word_ptr[rdi + 12], DescriptorNext);
        a.mov(__qword_ptr[rdi + 16], rcx);
        a.mov(__dword_ptr[rdi + 24], r8d);
        a.mov(__word_ptr[rdi + 28], DescriptorWrite);
        a.mov(__word_ptr[rdi + 30], 0);

        a.Label(ref publish);
        a.movzx(eax, __word_ptr[rdi + DesktopMemoryMap.AvailOffset + 2]);
        a.mov(edx, eax);
        a.and(edx, DesktopMemoryMap.QueueSize - 1);
        a.mov(__word_ptr[rdi + rdx * 2 + DesktopMemoryMap.AvailOffset + 4], 0);
        a.inc(eax);
        a.mov(__word_ptr[rdi + DesktopMemoryMap.AvailOffset + 2], ax);
        a.mov(__dword_ptr[r9 + VirtioMmio.RegQueueNotify], r10d);
        a.jmp(check);
        a.Label(ref wait);
        a.pause();
        a.mov(ecx, __dword_ptr[r9 + VirtioMmio.RegStatus]);
        a.test(ecx, VirtioMmio.StatusDeviceNeedsReset);
        a.jnz(gaveUp);
        a.Label(ref check);
        a.cmp(__word_ptr[rdi + DesktopMemoryMap.UsedOffset + 2], ax);
        a.jne(wait);
        a.mov(__word_ptr[rdi + DesktopMemoryMap.LastUsedOffset], ax);
        a.Label(ref gaveUp);
        a.ret();
    }

    private void EmitPostBuffers()
    {
        var a = _g.Asm;
        var loop = a.CreateLabel("virtq_post_loop");
        _g.Bind(ref _postBuffers);
        a.xor(ecx, ecx);
        a.Label(ref loop);
        a.mov(eax, ecx);
        a.shl(eax, 4);
        a.lea(rdx, __[rsi + rcx * 8]);
        a.mov(__qword_ptr[rdi + rax], rdx);
        a.mov(__dword_ptr[rdi + rax + 8], 8u);
        a.mov(__word_ptr[rdi + rax + 12], DescriptorWrite);
        a.mov(__word_ptr[rdi + rax + 14], 0);
        a.mov(__word_ptr[rdi + rcx * 2 + DesktopMemoryMap.AvailOffset + 4], cx);
        a.inc(ecx);
        a.cmp(ecx, DesktopMemoryMap.QueueSize);
        a.jb(loop);
        a.mov(__word_ptr[rdi + DesktopMemoryMap.AvailOffset + 2], cx);
        a.mov(__dword_ptr[r9 + VirtioMmio.RegQueueNotify], r10d);
        a.ret();
    }

    private void EmitNextUsed()
    {
        var a = _g.Asm;
        var none = a.CreateLabel("virtq_next_used_none");
        _g.Bind(ref _nextUsed);
        a.movzx(edx, __word_ptr[rdi + DesktopMemoryMap.LastUsedOffset]);
        a.cmp(dx, __word_ptr[rdi + DesktopMemoryMap.UsedOffset + 2]);
        a.je(none);
        a.mov(ecx, edx);
        a.and(ecx, DesktopMemoryMap.QueueSize - 1);
        a.mov(eax, __dword_ptr[rdi + rcx * 8 + DesktopMemoryMap.UsedOffset + 4]);
        a.inc(edx);
        a.mov(__word_ptr[rdi + DesktopMemoryMap.LastUsedOffset], dx);
        a.ret();
        a.Label(ref none);
        a.mov(eax, -1);
        a.ret();
    }

    private void EmitRepost()
    {
        var a = _g.Asm;
        _g.Bind(ref _repost);
        a.movzx(eax, __word_ptr[rdi + DesktopMemoryMap.AvailOffset + 2]);
        a.mov(edx, eax);
        a.and(edx, DesktopMemoryMap.QueueSize - 1);
        a.mov(__word_ptr[rdi + rdx * 2 + DesktopMemoryMap.AvailOffset + 4], si);
        a.inc(eax);
        a.mov(__word_ptr[rdi + DesktopMemoryMap.AvailOffset + 2], ax);
        a.ret();
    }
}
