using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.KvmConstants;

namespace Vdi.Vmm.Kvm;

/// <summary>Why a vCPU left the guest, in the VMM's terms.</summary>
public enum VcpuExitReason
{
    Unknown,
    IoIn,
    IoOut,
    MmioRead,
    MmioWrite,
    Halt,
    Shutdown,
    FailEntry,
    InternalError,
    SystemEvent,
    Interrupted,
    Other,
}

/// <summary>
/// A view over the mapped <c>kvm_run</c> page describing the last exit. Data spans point into
/// the page itself: writing an IN or MMIO-read span is how the device's answer reaches the guest.
/// Valid only on the vCPU's thread until the next <c>KVM_RUN</c>.
/// </summary>
public readonly unsafe ref struct VcpuExit
{
    private readonly kvm_run* _run;

    internal VcpuExit(kvm_run* run) => _run = run;

    // SAFETY (all members): _run points at a live kvm_run page (the vCPU's mapping, or a test's
    // buffer of at least sizeof(kvm_run) + the I/O data area) for the lifetime of this view.

    public uint RawReason => _run->exit_reason;

    public VcpuExitReason Reason => _run->exit_reason switch
    {
        KVM_EXIT_IO => _run->io.direction == KVM_EXIT_IO_OUT ? VcpuExitReason.IoOut : VcpuExitReason.IoIn,
        KVM_EXIT_MMIO => _run->mmio.is_write != 0 ? VcpuExitReason.MmioWrite : VcpuExitReason.MmioRead,
        KVM_EXIT_HLT => VcpuExitReason.Halt,
        KVM_EXIT_SHUTDOWN => VcpuExitReason.Shutdown,
        KVM_EXIT_FAIL_ENTRY => VcpuExitReason.FailEntry,
        KVM_EXIT_INTERNAL_ERROR => VcpuExitReason.InternalError,
        KVM_EXIT_SYSTEM_EVENT => VcpuExitReason.SystemEvent,
        KVM_EXIT_INTR => VcpuExitReason.Interrupted,
        KVM_EXIT_UNKNOWN => VcpuExitReason.Unknown,
        _ => VcpuExitReason.Other,
    };

    public ushort IoPort => _run->io.port;

    /// <summary>Access width in bytes (1, 2 or 4).</summary>
    public int IoSize => _run->io.size;

    /// <summary>Repetitions (string I/O: <c>rep outsb</c> and friends).</summary>
    public int IoCount => (int)_run->io.count;

    /// <summary>The I/O data area, <see cref="IoSize"/> × <see cref="IoCount"/> bytes, bounds-checked against the page.</summary>
    public Span<byte> IoData
    {
        get
        {
            var offset = _run->io.data_offset;
            var length = (ulong)_run->io.size * _run->io.count;
            if (offset < (ulong)sizeof(kvm_run) || length > 4096 || offset > (2 * 4096UL) - length)
                return default;
            return new Span<byte>((byte*)_run + offset, (int)length);
        }
    }

    public ulong MmioAddress => _run->mmio.phys_addr;

    /// <summary>The MMIO data (1–8 bytes): the written value, or where a read's answer goes.</summary>
    public Span<byte> MmioData => new(_run->mmio.data, (int)Math.Min(_run->mmio.len, 8u));

    public ulong FailEntryReason => _run->fail_entry.hardware_entry_failure_reason;

    public uint InternalSuberror => _run->@internal.suberror;

    public uint SystemEventType => _run->system_event.type;
}
