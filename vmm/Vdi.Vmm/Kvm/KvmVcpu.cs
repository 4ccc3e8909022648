using System.Runtime.InteropServices;
using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Kvm;

/// <summary>A KVM vCPU handle and its mapped <c>kvm_run</c> page.</summary>
public sealed unsafe partial class KvmVcpu : IDisposable
{
    private readonly FileDescriptor _fd;
    private readonly int _runSize;
    private kvm_run* _run;

    internal KvmVcpu(KvmSystem system, int id, FileDescriptor fd, int runSize)
    {
        System = system;
        Id = id;
        _fd = fd;
        _runSize = runSize;
        var page = LibcCalls.MapShared(fd.Value, (ulong)runSize);
        if (page == 0)
        {
            var errno = LibcCalls.Errno;
            fd.Dispose();
            KvmException.Throw("mmap(kvm_run)", errno);
        }
        _run = (kvm_run*)page;
    }

    public int Id { get; }

    /// <summary>The KVM system this vCPU's VM was made on (its MSR index list).</summary>
    internal KvmSystem System { get; }

    /// <summary>
    /// <c>KVM_RUN</c>. Returns 0 when the guest exited to user space (see <see cref="Exit"/>),
    /// or the errno: EINTR when a signal or <see cref="ImmediateExit"/> kicked the vCPU out.
    /// </summary>
    public int Run() => LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_RUN) < 0 ? LibcCalls.Errno : 0;

    /// <summary>The exit the last <see cref="Run"/> returned with, as a view over the shared page.</summary>
    public VcpuExit Exit => new(_run);

    /// <summary><c>kvm_run.immediate_exit</c>: when set, the next <c>KVM_RUN</c> returns EINTR at once.</summary>
    public bool ImmediateExit
    {
        // SAFETY: _run is mapped for this object's lifetime; the byte is written by the host only.
        get => Volatile.Read(ref _run->immediate_exit) != 0;
        set => Volatile.Write(ref _run->immediate_exit, value ? (byte)1 : (byte)0);
    }

    /// <summary>
    /// <c>kvm_run.kvm_valid_regs</c> (KVM_CAP_SYNC_REGS): the register sets (<c>KVM_SYNC_X86_*</c>) KVM stores into the
    /// shared page on every return from <c>KVM_RUN</c>, so reading them costs no ioctl.
    /// </summary>
    internal ulong SyncedRegisterSets
    {
        // SAFETY: _run is mapped for this object's lifetime; only this vCPU's thread writes the field.
        get => _run->kvm_valid_regs;
        set => _run->kvm_valid_regs = value;
    }

    // SAFETY (the three below): _run is mapped for this object's lifetime; the kernel writes them only inside KVM_RUN,
    // which runs on this vCPU's thread, as do the readers.

    /// <summary>The general registers KVM stored at the last return from <c>KVM_RUN</c> (with <c>KVM_SYNC_X86_REGS</c>).</summary>
    internal kvm_regs SyncedRegs => _run->sync_regs;

    /// <summary>The special registers KVM stored at the last return (with <c>KVM_SYNC_X86_SREGS</c>).</summary>
    internal kvm_sregs SyncedSregs => _run->sync_sregs;

    /// <summary>The pending events KVM stored at the last return (with <c>KVM_SYNC_X86_EVENTS</c>).</summary>
    internal kvm_vcpu_events SyncedEvents => _run->sync_events;

    internal kvm_regs GetRegs()
    {
        kvm_regs regs;
        // SAFETY: the kernel writes exactly sizeof(kvm_regs) bytes into the local.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_REGS, &regs), nameof(KvmIoctls.KVM_GET_REGS));
        return regs;
    }

    internal void SetRegs(in kvm_regs regs)
    {
        fixed (kvm_regs* p = &regs)
        {
            // SAFETY: p points at a caller-owned kvm_regs that the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_REGS, p), nameof(KvmIoctls.KVM_SET_REGS));
        }
    }

    internal kvm_sregs GetSregs()
    {
        kvm_sregs sregs;
        // SAFETY: the kernel writes exactly sizeof(kvm_sregs) bytes into the local.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_SREGS, &sregs), nameof(KvmIoctls.KVM_GET_SREGS));
        return sregs;
    }

    internal void SetSregs(in kvm_sregs sregs)
    {
        fixed (kvm_sregs* p = &sregs)
        {
            // SAFETY: p points at a caller-owned kvm_sregs that the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_SREGS, p), nameof(KvmIoctls.KVM_SET_SREGS));
        }
    }

    /// <summary><c>KVM_GET_LAPIC</c>: the in-kernel local APIC's register page (1 KiB).</summary>
    internal byte[] GetLapic()
    {
        var page = new byte[1024];
        fixed (byte* p = page)
        {
            // SAFETY: p points at 1024 bytes, the size of struct kvm_lapic_state the kernel writes.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_LAPIC, p), nameof(KvmIoctls.KVM_GET_LAPIC));
        }
        return page;
    }

    internal void SetLapic(ReadOnlySpan<byte> page)
    {
        if (page.Length != 1024)
            throw new ArgumentException("a local APIC page is 1024 bytes", nameof(page));
        fixed (byte* p = page)
        {
            // SAFETY: p points at 1024 caller-owned bytes the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_LAPIC, p), nameof(KvmIoctls.KVM_SET_LAPIC));
        }
    }

    public uint GetMpState()
    {
        kvm_mp_state mp;
        // SAFETY: the kernel writes exactly sizeof(kvm_mp_state) bytes into the local.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_MP_STATE, &mp), nameof(KvmIoctls.KVM_GET_MP_STATE));
        return mp.mp_state;
    }

    internal kvm_vcpu_events GetVcpuEvents()
    {
        kvm_vcpu_events events;
        // SAFETY: the kernel writes exactly sizeof(kvm_vcpu_events) bytes into the local.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_VCPU_EVENTS, &events), nameof(KvmIoctls.KVM_GET_VCPU_EVENTS));
        return events;
    }

    internal void SetVcpuEvents(in kvm_vcpu_events events)
    {
        fixed (kvm_vcpu_events* p = &events)
        {
            // SAFETY: p points at a caller-owned kvm_vcpu_events that the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_VCPU_EVENTS, p), nameof(KvmIoctls.KVM_SET_VCPU_EVENTS));
        }
    }

    internal void SetCpuid2(ReadOnlySpan<kvm_cpuid_entry2> entries)
    {
        var bytes = sizeof(kvm_cpuid2) + (entries.Length * sizeof(kvm_cpuid_entry2));
        var buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            // SAFETY: buffer was allocated for the header plus entries.Length entries.
            ((kvm_cpuid2*)buffer)->nent = (uint)entries.Length;
            entries.CopyTo(new Span<kvm_cpuid_entry2>(buffer + sizeof(kvm_cpuid2), entries.Length));
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_CPUID2, buffer), nameof(KvmIoctls.KVM_SET_CPUID2));
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    public void SetMpState(uint state)
    {
        var mp = new kvm_mp_state { mp_state = state };
        // SAFETY: mp is a local of the exact kernel layout; the kernel only reads it.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_MP_STATE, &mp), nameof(KvmIoctls.KVM_SET_MP_STATE));
    }

    /// <summary><c>KVM_SET_SIGNAL_MASK</c>: the signal mask in force while this vCPU runs the guest.</summary>
    public void SetSignalMask(ulong kernelMask)
    {
        var mask = new kvm_signal_mask { len = KvmConstants.KernelSigsetSize, sigset = kernelMask };
        // SAFETY: mask is a local holding the 4-byte length followed by the 8-byte kernel sigset.
        KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_SIGNAL_MASK, (byte*)&mask), nameof(KvmIoctls.KVM_SET_SIGNAL_MASK));
    }

    public void Dispose()
    {
        if (_run != null)
        {
            _ = LibcCalls.Unmap((nint)_run, (ulong)_runSize);
            _run = null;
        }
        _fd.Dispose();
    }
}
