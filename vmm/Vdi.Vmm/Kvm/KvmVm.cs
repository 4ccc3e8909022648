using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.KvmConstants;

namespace Vdi.Vmm.Kvm;

/// <summary>A KVM VM handle: memory slots, the in-kernel irqchip and PIT (and their state), the clock, dirty logs, and vCPU creation.</summary>
public sealed unsafe class KvmVm : IDisposable
{
    private readonly FileDescriptor _fd;

    internal KvmVm(KvmSystem system, FileDescriptor fd)
    {
        System = system;
        _fd = fd;
    }

    public KvmSystem System { get; }

    /// <summary><c>KVM_SET_USER_MEMORY_REGION</c>; a size of 0 deletes the slot.</summary>
    public void SetUserMemoryRegion(uint slot, bool readOnly, bool logDirty, ulong guestPhysicalAddress, ulong size, nint hostAddress)
    {
        var region = new kvm_userspace_memory_region
        {
            slot = slot,
            flags = (readOnly ? KVM_MEM_READONLY : 0) | (logDirty ? KVM_MEM_LOG_DIRTY_PAGES : 0),
            guest_phys_addr = guestPhysicalAddress,
            memory_size = size,
            userspace_addr = (ulong)hostAddress,
        };
        // SAFETY: region is a local of the exact kernel layout; the kernel only reads it.
        var result = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_USER_MEMORY_REGION, &region);
        KvmException.ThrowIfFailed(result, nameof(KvmIoctls.KVM_SET_USER_MEMORY_REGION));
    }

    public void SetTssAddr(ulong address) =>
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_TSS_ADDR, address), nameof(KvmIoctls.KVM_SET_TSS_ADDR));

    public void SetIdentityMapAddr(ulong address)
    {
        // SAFETY: the kernel reads one u64 from the local.
        var result = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR, &address);
        KvmException.ThrowIfFailed(result, nameof(KvmIoctls.KVM_SET_IDENTITY_MAP_ADDR));
    }

    /// <summary>In-kernel PIC, IOAPIC and local APICs (their timers included).</summary>
    public void CreateIrqchip() =>
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_CREATE_IRQCHIP), nameof(KvmIoctls.KVM_CREATE_IRQCHIP));

    public void CreatePit2()
    {
        var config = new kvm_pit_config { flags = KVM_PIT_SPEAKER_DUMMY };
        // SAFETY: config is a local of the exact kernel layout; the kernel only reads it.
        var result = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_CREATE_PIT2, &config);
        KvmException.ThrowIfFailed(result, nameof(KvmIoctls.KVM_CREATE_PIT2));
    }

    /// <summary><c>KVM_IRQ_LINE</c>: sets a GSI of the in-kernel irqchip high or low.</summary>
    public void IrqLine(uint gsi, bool level)
    {
        var irq = new kvm_irq_level { irq = gsi, level = level ? 1u : 0u };
        // SAFETY: irq is a local of the exact kernel layout; the kernel only reads it.
        var result = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_IRQ_LINE, &irq);
        KvmException.ThrowIfFailed(result, nameof(KvmIoctls.KVM_IRQ_LINE));
    }

    /// <summary><c>KVM_GET_DIRTY_LOG</c>: fills one bit per page of the slot and clears the kernel's log.</summary>
    public void GetDirtyLog(uint slot, Span<ulong> bitmap)
    {
        fixed (ulong* p = bitmap)
        {
            var log = new kvm_dirty_log { slot = slot, dirty_bitmap = (ulong)p };
            // SAFETY: bitmap is pinned for the call and the caller sized it to one bit per page of the slot, rounded up to 64 bits.
            var result = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_DIRTY_LOG, &log);
            KvmException.ThrowIfFailed(result, nameof(KvmIoctls.KVM_GET_DIRTY_LOG));
        }
    }

    /// <summary><c>KVM_GET_IRQCHIP</c>: one chip of the in-kernel irqchip (<c>KVM_IRQCHIP_PIC_MASTER</c>, <c>_SLAVE</c>, <c>_IOAPIC</c>).</summary>
    internal kvm_irqchip GetIrqchip(uint chipId)
    {
        var chip = new kvm_irqchip { chip_id = chipId };
        // SAFETY: chip is a local of the exact kernel layout; the kernel reads chip_id and writes the union.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_IRQCHIP, &chip), nameof(KvmIoctls.KVM_GET_IRQCHIP));
        return chip;
    }

    internal void SetIrqchip(in kvm_irqchip chip)
    {
        fixed (kvm_irqchip* p = &chip)
        {
            // SAFETY: p points at a caller-owned kvm_irqchip that the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_IRQCHIP, p), nameof(KvmIoctls.KVM_SET_IRQCHIP));
        }
    }

    /// <summary><c>KVM_GET_PIT2</c>: the in-kernel PIT's three channels and flags.</summary>
    internal kvm_pit_state2 GetPit2()
    {
        kvm_pit_state2 pit;
        // SAFETY: the kernel writes exactly sizeof(kvm_pit_state2) bytes into the local.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_PIT2, &pit), nameof(KvmIoctls.KVM_GET_PIT2));
        return pit;
    }

    /// <summary><c>KVM_SET_PIT2</c>: the kernel reloads channel 0's count at the time of the call.</summary>
    internal void SetPit2(in kvm_pit_state2 pit)
    {
        fixed (kvm_pit_state2* p = &pit)
        {
            // SAFETY: p points at a caller-owned kvm_pit_state2 that the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_PIT2, p), nameof(KvmIoctls.KVM_SET_PIT2));
        }
    }

    /// <summary><c>KVM_GET_CLOCK</c>: the guest's kvmclock, in nanoseconds.</summary>
    internal kvm_clock_data GetClock()
    {
        kvm_clock_data clock;
        // SAFETY: the kernel writes exactly sizeof(kvm_clock_data) bytes into the local.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_CLOCK, &clock), nameof(KvmIoctls.KVM_GET_CLOCK));
        return clock;
    }

    /// <summary><c>KVM_SET_CLOCK</c> (flags 0): the kvmclock reads <paramref name="nanoseconds"/> now and counts on from there.</summary>
    internal void SetClock(ulong nanoseconds)
    {
        var clock = new kvm_clock_data { clock = nanoseconds };
        // SAFETY: clock is a local of the exact kernel layout; the kernel only reads it.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_CLOCK, &clock), nameof(KvmIoctls.KVM_SET_CLOCK));
    }

    public KvmVcpu CreateVcpu(int id)
    {
        var fd = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_CREATE_VCPU, (ulong)id);
        KvmException.ThrowIfFailed(fd, nameof(KvmIoctls.KVM_CREATE_VCPU));
        return new KvmVcpu(System, id, new FileDescriptor(fd), System.VcpuMmapSize);
    }

    public void Dispose() => _fd.Dispose();
}
