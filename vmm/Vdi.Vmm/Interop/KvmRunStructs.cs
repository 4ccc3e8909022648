using System.Runtime.InteropServices;

namespace Vdi.Vmm.Interop;

/// <summary>The <c>struct kvm_run</c> shared page (its first 2352 bytes); the exit union sits at 32.</summary>
[StructLayout(LayoutKind.Explicit, Size = 2352)]
internal struct kvm_run
{
    [FieldOffset(0)] public byte request_interrupt_window;
    [FieldOffset(1)] public byte immediate_exit;
    [FieldOffset(8)] public uint exit_reason;
    [FieldOffset(12)] public byte ready_for_interrupt_injection;
    [FieldOffset(13)] public byte if_flag;
    [FieldOffset(14)] public ushort flags;
    [FieldOffset(16)] public ulong cr8;
    [FieldOffset(24)] public ulong apic_base;

    // The exit union (256 bytes).
    [FieldOffset(32)] public kvm_run_io io;
    [FieldOffset(32)] public kvm_run_mmio mmio;
    [FieldOffset(32)] public kvm_run_fail_entry fail_entry;
    [FieldOffset(32)] public kvm_run_internal @internal;
    [FieldOffset(32)] public kvm_run_system_event system_event;
    [FieldOffset(32)] public kvm_run_exception ex;

    [FieldOffset(288)] public ulong kvm_valid_regs;
    [FieldOffset(296)] public ulong kvm_dirty_regs;

    // kvm_run.s.regs (struct kvm_sync_regs, KVM_CAP_SYNC_REGS): what kvm_valid_regs asked for, stored on every return.
    [FieldOffset(304)] public kvm_regs sync_regs;
    [FieldOffset(448)] public kvm_sregs sync_sregs;
    [FieldOffset(760)] public kvm_vcpu_events sync_events;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_run_io
{
    [FieldOffset(0)] public byte direction;
    [FieldOffset(1)] public byte size;
    [FieldOffset(2)] public ushort port;
    [FieldOffset(4)] public uint count;
    /// <summary>Offset of the data from the start of <c>kvm_run</c>.</summary>
    [FieldOffset(8)] public ulong data_offset;
}

[StructLayout(LayoutKind.Explicit, Size = 24)]
internal unsafe struct kvm_run_mmio
{
    [FieldOffset(0)] public ulong phys_addr;
    [FieldOffset(8)] public fixed byte data[8];
    [FieldOffset(16)] public uint len;
    [FieldOffset(20)] public byte is_write;
}

[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct kvm_run_fail_entry
{
    [FieldOffset(0)] public ulong hardware_entry_failure_reason;
    [FieldOffset(8)] public uint cpu;
}

[StructLayout(LayoutKind.Explicit, Size = 136)]
internal unsafe struct kvm_run_internal
{
    [FieldOffset(0)] public uint suberror;
    [FieldOffset(4)] public uint ndata;
    [FieldOffset(8)] public fixed ulong data[16];
}

[StructLayout(LayoutKind.Explicit, Size = 136)]
internal unsafe struct kvm_run_system_event
{
    [FieldOffset(0)] public uint type;
    [FieldOffset(4)] public uint ndata;
    [FieldOffset(8)] public fixed ulong data[16];
}

[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct kvm_run_exception
{
    [FieldOffset(0)] public uint exception;
    [FieldOffset(4)] public uint error_code;
}
