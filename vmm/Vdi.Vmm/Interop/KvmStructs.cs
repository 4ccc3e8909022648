using System.Runtime.InteropServices;

namespace Vdi.Vmm.Interop;

// Kernel structs with their C names and explicit layouts (asm/kvm.h, linux/kvm.h, x86-64).
// Tests pin their sizes and key offsets; keep the two in step.

[StructLayout(LayoutKind.Sequential)]
internal struct kvm_regs
{
    public ulong rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
    public ulong r8, r9, r10, r11, r12, r13, r14, r15;
    public ulong rip, rflags;
}

[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct kvm_segment
{
    [FieldOffset(0)] public ulong @base;
    [FieldOffset(8)] public uint limit;
    [FieldOffset(12)] public ushort selector;
    [FieldOffset(14)] public byte type;
    [FieldOffset(15)] public byte present;
    [FieldOffset(16)] public byte dpl;
    [FieldOffset(17)] public byte db;
    [FieldOffset(18)] public byte s;
    [FieldOffset(19)] public byte l;
    [FieldOffset(20)] public byte g;
    [FieldOffset(21)] public byte avl;
    [FieldOffset(22)] public byte unusable;
    [FieldOffset(23)] public byte padding;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_dtable
{
    [FieldOffset(0)] public ulong @base;
    [FieldOffset(8)] public ushort limit;
}

[StructLayout(LayoutKind.Explicit, Size = 312)]
internal unsafe struct kvm_sregs
{
    [FieldOffset(0)] public kvm_segment cs;
    [FieldOffset(24)] public kvm_segment ds;
    [FieldOffset(48)] public kvm_segment es;
    [FieldOffset(72)] public kvm_segment fs;
    [FieldOffset(96)] public kvm_segment gs;
    [FieldOffset(120)] public kvm_segment ss;
    [FieldOffset(144)] public kvm_segment tr;
    [FieldOffset(168)] public kvm_segment ldt;
    [FieldOffset(192)] public kvm_dtable gdt;
    [FieldOffset(208)] public kvm_dtable idt;
    [FieldOffset(224)] public ulong cr0;
    [FieldOffset(232)] public ulong cr2;
    [FieldOffset(240)] public ulong cr3;
    [FieldOffset(248)] public ulong cr4;
    [FieldOffset(256)] public ulong cr8;
    [FieldOffset(264)] public ulong efer;
    [FieldOffset(272)] public ulong apic_base;
    [FieldOffset(280)] public fixed ulong interrupt_bitmap[4];
}

[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct kvm_userspace_memory_region
{
    [FieldOffset(0)] public uint slot;
    [FieldOffset(4)] public uint flags;
    [FieldOffset(8)] public ulong guest_phys_addr;
    [FieldOffset(16)] public ulong memory_size;
    [FieldOffset(24)] public ulong userspace_addr;
}

[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct kvm_cpuid_entry2
{
    [FieldOffset(0)] public uint function;
    [FieldOffset(4)] public uint index;
    [FieldOffset(8)] public uint flags;
    [FieldOffset(12)] public uint eax;
    [FieldOffset(16)] public uint ebx;
    [FieldOffset(20)] public uint ecx;
    [FieldOffset(24)] public uint edx;
}

/// <summary>Header of <c>struct kvm_cpuid2</c>; <c>nent</c> entries of <see cref="kvm_cpuid_entry2"/> follow it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct kvm_cpuid2
{
    [FieldOffset(0)] public uint nent;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_dirty_log
{
    [FieldOffset(0)] public uint slot;
    [FieldOffset(8)] public ulong dirty_bitmap;
}

[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct kvm_irq_level
{
    [FieldOffset(0)] public uint irq;
    [FieldOffset(4)] public uint level;
}

[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct kvm_pit_config
{
    [FieldOffset(0)] public uint flags;
}

[StructLayout(LayoutKind.Explicit, Size = 4)]
internal struct kvm_mp_state
{
    [FieldOffset(0)] public uint mp_state;
}

/// <summary>Header of <c>struct kvm_signal_mask</c>; <c>len</c> bytes of kernel sigset follow it.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_signal_mask
{
    [FieldOffset(0)] public uint len;
    [FieldOffset(4)] public ulong sigset;
}

/// <summary>
/// <c>struct kvm_vcpu_events</c> (64 bytes): exceptions, interrupts and NMIs KVM holds for injection, and the
/// interrupt shadow. Only the fields the VMM reads are named.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct kvm_vcpu_events
{
    [FieldOffset(0)] public byte exception_injected;
    [FieldOffset(1)] public byte exception_nr;
    [FieldOffset(2)] public byte exception_has_error_code;
    [FieldOffset(3)] public byte exception_pending;
    [FieldOffset(4)] public uint exception_error_code;
    [FieldOffset(8)] public byte interrupt_injected;
    [FieldOffset(9)] public byte interrupt_nr;
    [FieldOffset(10)] public byte interrupt_soft;
    [FieldOffset(11)] public byte interrupt_shadow;
    [FieldOffset(12)] public byte nmi_injected;
    [FieldOffset(13)] public byte nmi_pending;
    [FieldOffset(14)] public byte nmi_masked;
    [FieldOffset(16)] public uint sipi_vector;
    [FieldOffset(20)] public uint flags;
    [FieldOffset(28)] public byte triple_fault_pending;
}
