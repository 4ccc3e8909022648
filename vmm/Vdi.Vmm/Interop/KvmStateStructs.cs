using System.Runtime.InteropServices;

namespace Vdi.Vmm.Interop;

// The kernel structs of machine state (MSRs, FPU, in-kernel irqchip, PIT, clock) with their C names and explicit
// layouts (asm/kvm.h, linux/kvm.h, x86-64). StructLayoutTests pins their sizes and key offsets.

/// <summary>Header of <c>struct kvm_msr_list</c>; <c>nmsrs</c> u32 indices follow it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 4)]
internal struct kvm_msr_list
{
    [FieldOffset(0)] public uint nmsrs;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_msr_entry
{
    [FieldOffset(0)] public uint index;
    [FieldOffset(4)] public uint reserved;
    [FieldOffset(8)] public ulong data;
}

/// <summary>Header of <c>struct kvm_msrs</c>; <c>nmsrs</c> entries of <see cref="kvm_msr_entry"/> follow it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct kvm_msrs
{
    [FieldOffset(0)] public uint nmsrs;
    [FieldOffset(4)] public uint pad;
}

/// <summary>
/// <c>struct kvm_xsave</c> (KVM_CAP_XSAVE; 4 KiB): the guest's x87/SSE/extended state in the XSAVE standard format —
/// the 512-byte FXSAVE legacy region, then the header (XSTATE_BV at 512), then the extended components.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 4096)]
internal unsafe struct kvm_xsave
{
    [FieldOffset(0)] public fixed uint region[1024];
}

/// <summary><c>struct kvm_pic_state</c>: one 8259 of the in-kernel PIC.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_pic_state
{
    [FieldOffset(0)] public byte last_irr;
    [FieldOffset(1)] public byte irr;
    [FieldOffset(2)] public byte imr;
    [FieldOffset(3)] public byte isr;
    [FieldOffset(4)] public byte priority_add;
    [FieldOffset(5)] public byte irq_base;
    [FieldOffset(6)] public byte read_reg_select;
    [FieldOffset(7)] public byte poll;
    [FieldOffset(8)] public byte special_mask;
    [FieldOffset(9)] public byte init_state;
    [FieldOffset(10)] public byte auto_eoi;
    [FieldOffset(11)] public byte rotate_on_auto_eoi;
    [FieldOffset(12)] public byte special_fully_nested_mode;
    [FieldOffset(13)] public byte init4;
    [FieldOffset(14)] public byte elcr;
    [FieldOffset(15)] public byte elcr_mask;
}

/// <summary><c>struct kvm_ioapic_state</c>: the in-kernel I/O APIC; <c>redirtbl</c> holds the 24 64-bit entries.</summary>
[StructLayout(LayoutKind.Explicit, Size = 216)]
internal unsafe struct kvm_ioapic_state
{
    [FieldOffset(0)] public ulong base_address;
    [FieldOffset(8)] public uint ioregsel;
    [FieldOffset(12)] public uint id;
    [FieldOffset(16)] public uint irr;
    [FieldOffset(20)] public uint pad;
    [FieldOffset(24)] public fixed ulong redirtbl[KvmConstants.KVM_IOAPIC_NUM_PINS];
}

/// <summary><c>struct kvm_irqchip</c>: <c>chip_id</c> selects the PIC master, slave or the I/O APIC in the 512-byte union.</summary>
[StructLayout(LayoutKind.Explicit, Size = 520)]
internal struct kvm_irqchip
{
    [FieldOffset(0)] public uint chip_id;
    [FieldOffset(4)] public uint pad;
    [FieldOffset(8)] public kvm_pic_state pic;
    [FieldOffset(8)] public kvm_ioapic_state ioapic;
}

/// <summary><c>struct kvm_pit_channel_state</c>: one 8254 channel.</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct kvm_pit_channel_state
{
    [FieldOffset(0)] public uint count; // can be 65536
    [FieldOffset(4)] public ushort latched_count;
    [FieldOffset(6)] public byte count_latched;
    [FieldOffset(7)] public byte status_latched;
    [FieldOffset(8)] public byte status;
    [FieldOffset(9)] public byte read_state;
    [FieldOffset(10)] public byte write_state;
    [FieldOffset(11)] public byte write_latch;
    [FieldOffset(12)] public byte rw_mode;
    [FieldOffset(13)] public byte mode;
    [FieldOffset(14)] public byte bcd;
    [FieldOffset(15)] public byte gate;
    [FieldOffset(16)] public long count_load_time; // host ktime; KVM_SET_PIT2 reloads the count at the time of the call
}

/// <summary><c>struct kvm_pit_state2</c> (KVM_CAP_PIT_STATE2): the three channels and the flags.</summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
internal struct kvm_pit_state2
{
    [FieldOffset(0)] public kvm_pit_channel_state channel0;
    [FieldOffset(24)] public kvm_pit_channel_state channel1;
    [FieldOffset(48)] public kvm_pit_channel_state channel2;
    [FieldOffset(72)] public uint flags;
}

/// <summary><c>struct kvm_clock_data</c> (KVM_CAP_ADJUST_CLOCK): the kvmclock in nanoseconds.</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct kvm_clock_data
{
    [FieldOffset(0)] public ulong clock;
    [FieldOffset(8)] public uint flags;
    [FieldOffset(12)] public uint pad0;
    [FieldOffset(16)] public ulong realtime;
    [FieldOffset(24)] public ulong host_tsc;
}
