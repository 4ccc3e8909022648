using System.Runtime.InteropServices;
using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Kvm;

/// <summary>The vCPU ioctls of machine state beyond the registers: MSRs and the x87/SSE state (XSAVE).</summary>
public sealed unsafe partial class KvmVcpu
{
    /// <summary><c>KVM_GET_MSRS</c>: the values of <paramref name="indices"/>, in order; every one must be read.</summary>
    internal ulong[] GetMsrs(ReadOnlySpan<uint> indices)
    {
        var buffer = (byte*)NativeMemory.AllocZeroed((nuint)(sizeof(kvm_msrs) + (indices.Length * sizeof(kvm_msr_entry))));
        try
        {
            // SAFETY: buffer holds a kvm_msrs header followed by indices.Length entries, as nmsrs says.
            ((kvm_msrs*)buffer)->nmsrs = (uint)indices.Length;
            var entries = new Span<kvm_msr_entry>(buffer + sizeof(kvm_msrs), indices.Length);
            for (var i = 0; i < indices.Length; i++)
                entries[i].index = indices[i];
            var read = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_MSRS, buffer);
            KvmException.ThrowIfFailed(read, nameof(KvmIoctls.KVM_GET_MSRS));
            if (read != indices.Length) // the kernel stops at the first MSR it cannot read
                throw new KvmException($"{nameof(KvmIoctls.KVM_GET_MSRS)}(0x{indices[read]:X})", 22);
            var values = new ulong[indices.Length];
            for (var i = 0; i < values.Length; i++)
                values[i] = entries[i].data;
            return values;
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary><c>KVM_SET_MSRS</c>: every pair must be written.</summary>
    internal void SetMsrs(ReadOnlySpan<uint> indices, ReadOnlySpan<ulong> values)
    {
        if (indices.Length != values.Length)
            throw new ArgumentException("one value per MSR", nameof(values));
        var buffer = (byte*)NativeMemory.AllocZeroed((nuint)(sizeof(kvm_msrs) + (indices.Length * sizeof(kvm_msr_entry))));
        try
        {
            // SAFETY: buffer holds a kvm_msrs header followed by indices.Length entries, as nmsrs says; the kernel only reads it.
            ((kvm_msrs*)buffer)->nmsrs = (uint)indices.Length;
            var entries = new Span<kvm_msr_entry>(buffer + sizeof(kvm_msrs), indices.Length);
            for (var i = 0; i < indices.Length; i++)
                (entries[i].index, entries[i].data) = (indices[i], values[i]);
            var written = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_MSRS, buffer);
            KvmException.ThrowIfFailed(written, nameof(KvmIoctls.KVM_SET_MSRS));
            if (written != indices.Length) // the kernel stops at the first MSR it refuses
                throw new KvmException($"{nameof(KvmIoctls.KVM_SET_MSRS)}(0x{indices[written]:X} = 0x{values[written]:X})", 22);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary><c>KVM_GET_XSAVE</c>: the x87/SSE/extended state, 4 KiB in the XSAVE standard format.</summary>
    internal byte[] GetXsave()
    {
        var area = new byte[sizeof(kvm_xsave)];
        fixed (byte* p = area)
        {
            // SAFETY: p points at sizeof(kvm_xsave) bytes, what the kernel writes.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_XSAVE, p), nameof(KvmIoctls.KVM_GET_XSAVE));
        }
        return area;
    }

    internal void SetXsave(ReadOnlySpan<byte> area)
    {
        if (area.Length != sizeof(kvm_xsave))
            throw new ArgumentException($"an XSAVE area is {sizeof(kvm_xsave)} bytes", nameof(area));
        fixed (byte* p = area)
        {
            // SAFETY: p points at sizeof(kvm_xsave) caller-owned bytes the kernel only reads.
            KvmException.ThrowIfFailed(LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_SET_XSAVE, p), nameof(KvmIoctls.KVM_SET_XSAVE));
        }
    }
}
