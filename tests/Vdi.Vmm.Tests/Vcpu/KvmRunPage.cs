using System.Runtime.InteropServices;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Vcpu;

/// <summary>A hand-built, zeroed <c>kvm_run</c> mapping (two pages, the I/O data area on the second, as KVM lays it out).</summary>
internal sealed unsafe class KvmRunPage : IDisposable
{
    public const int Size = 8192;
    public const ulong DataOffset = 4096;

    // SAFETY (all members): _page is a live, zeroed allocation of Size bytes until Dispose, and
    // every pointer made here stays inside it.
    private readonly byte* _page;

    public KvmRunPage()
    {
        // SAFETY: a fresh native allocation owned by this object and freed once, in Dispose.
        _page = (byte*)NativeMemory.AllocZeroed(Size);
    }

    public kvm_run* Run => (kvm_run*)_page;

    /// <summary>The whole buffer, to check what a dispatch wrote (and where).</summary>
    public Span<byte> Bytes => new(_page, Size);

    public Span<byte> IoData(int length) => Bytes.Slice((int)DataOffset, length);

    public VcpuExit Exit() => new(Run);

    public void SetReason(uint reason) => Run->exit_reason = reason;

    public void SetIo(byte direction, ushort port, byte size, uint count = 1, ulong dataOffset = DataOffset)
    {
        Run->exit_reason = KvmConstants.KVM_EXIT_IO;
        Run->io.direction = direction;
        Run->io.port = port;
        Run->io.size = size;
        Run->io.count = count;
        Run->io.data_offset = dataOffset;
    }

    public void SetMmio(ulong address, bool isWrite, ReadOnlySpan<byte> data)
    {
        Run->exit_reason = KvmConstants.KVM_EXIT_MMIO;
        Run->mmio.phys_addr = address;
        Run->mmio.is_write = isWrite ? (byte)1 : (byte)0;
        Run->mmio.len = (uint)data.Length;
        data.CopyTo(MmioData);
    }

    public void SetFailEntry(ulong hardwareReason)
    {
        Run->exit_reason = KvmConstants.KVM_EXIT_FAIL_ENTRY;
        Run->fail_entry.hardware_entry_failure_reason = hardwareReason;
    }

    public void SetInternalError(uint suberror)
    {
        Run->exit_reason = KvmConstants.KVM_EXIT_INTERNAL_ERROR;
        Run->@internal.suberror = suberror;
    }

    public void SetSystemEvent(uint type)
    {
        Run->exit_reason = KvmConstants.KVM_EXIT_SYSTEM_EVENT;
        Run->system_event.type = type;
    }

    /// <summary>The MMIO length field as KVM wrote it (tests corrupt it on purpose).</summary>
    public uint MmioLength
    {
        get => Run->mmio.len;
        set => Run->mmio.len = value;
    }

    /// <summary>All eight bytes of the MMIO data field, whatever the access length.</summary>
    public Span<byte> MmioData => new(Run->mmio.data, 8);

    public void Dispose() => NativeMemory.Free(_page);
}

/// <summary>A vCPU register file for exits that read or change registers (hypercalls).</summary>
internal sealed class RegisterFile : IVcpuRegisterAccess
{
    public RegisterFile(VcpuRegisters registers) => Registers = registers;

    public VcpuRegisters Registers { get; set; }

    public int Gets { get; private set; }

    public int Sets { get; private set; }

    public VcpuRegisters GetRegisters()
    {
        Gets++;
        return Registers;
    }

    public void SetRegisters(in VcpuRegisters registers)
    {
        Sets++;
        Registers = registers;
    }
}
