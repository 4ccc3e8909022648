using System.Runtime.CompilerServices;
using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Tests.Interop;

/// <summary>Pins every kernel struct to the kernel's size and key offsets (x86-64 linux/kvm.h).</summary>
public sealed unsafe class StructLayoutTests
{
    private static int Offset<T>(ref T baseRef, ref byte field) => (int)Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref baseRef), ref field);

    [Theory]
    [InlineData(typeof(kvm_regs), 144)]
    [InlineData(typeof(kvm_segment), 24)]
    [InlineData(typeof(kvm_dtable), 16)]
    [InlineData(typeof(kvm_sregs), 312)]
    [InlineData(typeof(kvm_userspace_memory_region), 32)]
    [InlineData(typeof(kvm_cpuid_entry2), 40)]
    [InlineData(typeof(kvm_cpuid2), 8)]
    [InlineData(typeof(kvm_dirty_log), 16)]
    [InlineData(typeof(kvm_irq_level), 8)]
    [InlineData(typeof(kvm_pit_config), 64)]
    [InlineData(typeof(kvm_mp_state), 4)]
    [InlineData(typeof(kvm_run), 2352)]
    [InlineData(typeof(kvm_run_io), 16)]
    [InlineData(typeof(kvm_run_mmio), 24)]
    [InlineData(typeof(kvm_vcpu_events), 64)]
    [InlineData(typeof(kvm_msr_list), 4)]
    [InlineData(typeof(kvm_msr_entry), 16)]
    [InlineData(typeof(kvm_msrs), 8)]
    [InlineData(typeof(kvm_xsave), 4096)]
    [InlineData(typeof(kvm_pic_state), 16)]
    [InlineData(typeof(kvm_ioapic_state), 216)]
    [InlineData(typeof(kvm_irqchip), 520)]
    [InlineData(typeof(kvm_pit_channel_state), 24)]
    [InlineData(typeof(kvm_pit_state2), 112)]
    [InlineData(typeof(kvm_clock_data), 48)]
    public void Struct_has_the_kernel_size(Type type, int size) =>
        Assert.Equal(size, System.Runtime.InteropServices.Marshal.SizeOf(type));

    [Fact]
    public void The_state_structs_key_offsets_match_the_kernel()
    {
        var chip = default(kvm_irqchip);
        Assert.Equal(8, Offset(ref chip, ref chip.pic.last_irr));
        Assert.Equal(8 + 15, Offset(ref chip, ref chip.pic.elcr_mask));
        Assert.Equal(8 + 16, Offset(ref chip, ref Unsafe.As<uint, byte>(ref chip.ioapic.irr)));
        Assert.Equal(8 + 24, (int)((byte*)chip.ioapic.redirtbl - (byte*)&chip));
        var pit = default(kvm_pit_state2);
        Assert.Equal(48 + 13, Offset(ref pit, ref pit.channel2.mode));
        Assert.Equal(16, Offset(ref pit, ref Unsafe.As<long, byte>(ref pit.channel0.count_load_time)));
        Assert.Equal(72, Offset(ref pit, ref Unsafe.As<uint, byte>(ref pit.flags)));
        var entry = default(kvm_msr_entry);
        Assert.Equal(8, Offset(ref entry, ref Unsafe.As<ulong, byte>(ref entry.data)));
        var clock = default(kvm_clock_data);
        Assert.Equal(8, Offset(ref clock, ref Unsafe.As<uint, byte>(ref clock.flags)));
    }

    [Fact]
    public void Kvm_regs_puts_rip_at_128_and_rflags_at_136()
    {
        var r = default(kvm_regs);
        Assert.Equal(0, Offset(ref r, ref Unsafe.As<ulong, byte>(ref r.rax)));
        Assert.Equal(56, Offset(ref r, ref Unsafe.As<ulong, byte>(ref r.rbp)));
        Assert.Equal(64, Offset(ref r, ref Unsafe.As<ulong, byte>(ref r.r8)));
        Assert.Equal(128, Offset(ref r, ref Unsafe.As<ulong, byte>(ref r.rip)));
        Assert.Equal(136, Offset(ref r, ref Unsafe.As<ulong, byte>(ref r.rflags)));
    }

    [Fact]
    public void Kvm_sregs_key_offsets_match_the_kernel()
    {
        var s = default(kvm_sregs);
        Assert.Equal(144, Offset(ref s, ref Unsafe.As<kvm_segment, byte>(ref s.tr)));
        Assert.Equal(192, Offset(ref s, ref Unsafe.As<kvm_dtable, byte>(ref s.gdt)));
        Assert.Equal(224, Offset(ref s, ref Unsafe.As<ulong, byte>(ref s.cr0)));
        Assert.Equal(240, Offset(ref s, ref Unsafe.As<ulong, byte>(ref s.cr3)));
        Assert.Equal(264, Offset(ref s, ref Unsafe.As<ulong, byte>(ref s.efer)));
        Assert.Equal(272, Offset(ref s, ref Unsafe.As<ulong, byte>(ref s.apic_base)));
        Assert.Equal(280, (int)((byte*)s.interrupt_bitmap - (byte*)&s));
    }

    [Fact]
    public void Kvm_segment_fields_are_packed_after_selector()
    {
        var seg = default(kvm_segment);
        Assert.Equal(12, Offset(ref seg, ref Unsafe.As<ushort, byte>(ref seg.selector)));
        Assert.Equal(14, Offset(ref seg, ref seg.type));
        Assert.Equal(19, Offset(ref seg, ref seg.l));
        Assert.Equal(22, Offset(ref seg, ref seg.unusable));
    }

    [Fact]
    public void Kvm_run_exit_union_starts_at_32()
    {
        var run = default(kvm_run);
        Assert.Equal(1, Offset(ref run, ref run.immediate_exit));
        Assert.Equal(8, Offset(ref run, ref Unsafe.As<uint, byte>(ref run.exit_reason)));
        Assert.Equal(32, Offset(ref run, ref Unsafe.As<kvm_run_io, byte>(ref run.io)));
        Assert.Equal(32, Offset(ref run, ref Unsafe.As<kvm_run_mmio, byte>(ref run.mmio)));
        Assert.Equal(288, Offset(ref run, ref Unsafe.As<ulong, byte>(ref run.kvm_valid_regs)));
        Assert.Equal(34, Offset(ref run, ref Unsafe.As<ushort, byte>(ref run.io.port)));
        Assert.Equal(40, Offset(ref run, ref Unsafe.As<ulong, byte>(ref run.io.data_offset)));
        Assert.Equal(48, Offset(ref run, ref Unsafe.As<uint, byte>(ref run.mmio.len)));
        Assert.Equal(52, Offset(ref run, ref run.mmio.is_write));
    }

    [Fact]
    public void Kvm_run_sync_regs_follow_the_dirty_mask_at_304()
    {
        var run = default(kvm_run);
        Assert.Equal(296, Offset(ref run, ref Unsafe.As<ulong, byte>(ref run.kvm_dirty_regs)));
        Assert.Equal(304, Offset(ref run, ref Unsafe.As<kvm_regs, byte>(ref run.sync_regs)));
        Assert.Equal(448, Offset(ref run, ref Unsafe.As<kvm_sregs, byte>(ref run.sync_sregs)));
        Assert.Equal(760, Offset(ref run, ref Unsafe.As<kvm_vcpu_events, byte>(ref run.sync_events)));
        var events = default(kvm_vcpu_events);
        Assert.Equal(11, Offset(ref events, ref events.interrupt_shadow));
        Assert.Equal(13, Offset(ref events, ref events.nmi_pending));
        Assert.Equal(28, Offset(ref events, ref events.triple_fault_pending));
    }

    [Fact]
    public void Memory_region_and_dirty_log_offsets_match_the_kernel()
    {
        var m = default(kvm_userspace_memory_region);
        Assert.Equal(8, Offset(ref m, ref Unsafe.As<ulong, byte>(ref m.guest_phys_addr)));
        Assert.Equal(24, Offset(ref m, ref Unsafe.As<ulong, byte>(ref m.userspace_addr)));
        var d = default(kvm_dirty_log);
        Assert.Equal(8, Offset(ref d, ref Unsafe.As<ulong, byte>(ref d.dirty_bitmap)));
    }

    [Fact]
    public void Ioctl_numbers_match_the_kernel_headers()
    {
        // Values as the kernel headers expand them on x86-64.
        Assert.Equal(0xAE00, KvmIoctls.KVM_GET_API_VERSION);
        Assert.Equal(0xAE01, KvmIoctls.KVM_CREATE_VM);
        Assert.Equal(0xAE41, KvmIoctls.KVM_CREATE_VCPU);
        Assert.Equal(0xAE80, KvmIoctls.KVM_RUN);
        Assert.Equal(unchecked((int)0x8090AE81), KvmIoctls.KVM_GET_REGS);
        Assert.Equal(0x4090AE82, KvmIoctls.KVM_SET_REGS);
        Assert.Equal(unchecked((int)0x8138AE83), KvmIoctls.KVM_GET_SREGS);
        Assert.Equal(0x4020AE46, KvmIoctls.KVM_SET_USER_MEMORY_REGION);
        Assert.Equal(0x4010AE42, KvmIoctls.KVM_GET_DIRTY_LOG);
        Assert.Equal(unchecked((int)0xC008AE05), KvmIoctls.KVM_GET_SUPPORTED_CPUID);
        Assert.Equal(0x4008AE90, KvmIoctls.KVM_SET_CPUID2);
        Assert.Equal(0x4008AE61, KvmIoctls.KVM_IRQ_LINE);
        Assert.Equal(0x4040AE77, KvmIoctls.KVM_CREATE_PIT2);
        Assert.Equal(0x4004AE99, KvmIoctls.KVM_SET_MP_STATE);
    }
}
