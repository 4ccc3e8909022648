using System.Runtime.InteropServices;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.KvmConstants;

namespace Vdi.Vmm.Kvm;

/// <summary>The KVM system handle (<c>/dev/kvm</c>): capability queries, CPUID, and VM creation.</summary>
public sealed unsafe class KvmSystem : IDisposable
{
    public const string DefaultDevicePath = "/dev/kvm";

    /// <summary>Environment variable that overrides the device path (tests use it to simulate a missing device).</summary>
    public const string DevicePathVariable = "VDI_KVM_DEVICE";

    private readonly FileDescriptor _fd;

    private KvmSystem(FileDescriptor fd, string path)
    {
        _fd = fd;
        DevicePath = path;
        VcpuMmapSize = LibcCalls.Ioctl(fd.Value, KvmIoctls.KVM_GET_VCPU_MMAP_SIZE);
        KvmException.ThrowIfFailed(VcpuMmapSize, nameof(KvmIoctls.KVM_GET_VCPU_MMAP_SIZE));
    }

    public string DevicePath { get; }

    /// <summary>Size of the <c>kvm_run</c> mapping of each vCPU.</summary>
    public int VcpuMmapSize { get; }

    public static string ConfiguredDevicePath =>
        Environment.GetEnvironmentVariable(DevicePathVariable) is { Length: > 0 } p ? p : DefaultDevicePath;

    /// <summary>Opens the KVM device and checks the API version and the capabilities the VMM relies on.</summary>
    public static KvmSystem Open(string? path = null)
    {
        path ??= ConfiguredDevicePath;
        var raw = LibcCalls.Open(path);
        if (raw < 0)
            throw KvmException.CannotOpenDevice(path, LibcCalls.Errno);
        var fd = new FileDescriptor(raw);
        try
        {
            var version = LibcCalls.Ioctl(fd.Value, KvmIoctls.KVM_GET_API_VERSION);
            if (version < 0)
            {
                // ENOTTY: the path is not a KVM device at all.
                throw KvmException.CannotOpenDevice(path, LibcCalls.Errno);
            }
            if (version != KVM_API_VERSION)
                throw new KvmException(nameof(KvmIoctls.KVM_GET_API_VERSION), 22);
            var system = new KvmSystem(fd, path);
            foreach (var cap in s_requiredCapabilities)
            {
                if (system.CheckExtension(cap.Id) <= 0)
                    throw new KvmException($"KVM_CHECK_EXTENSION({cap.Name})", 95);
            }
            return system;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    private static readonly (int Id, string Name)[] s_requiredCapabilities =
    [
        (KVM_CAP_USER_MEMORY, nameof(KVM_CAP_USER_MEMORY)),
        (KVM_CAP_IRQCHIP, nameof(KVM_CAP_IRQCHIP)),
        (KVM_CAP_SET_TSS_ADDR, nameof(KVM_CAP_SET_TSS_ADDR)),
        (KVM_CAP_EXT_CPUID, nameof(KVM_CAP_EXT_CPUID)),
        (KVM_CAP_MP_STATE, nameof(KVM_CAP_MP_STATE)),
        (KVM_CAP_IMMEDIATE_EXIT, nameof(KVM_CAP_IMMEDIATE_EXIT)),
        (KVM_CAP_READONLY_MEM, nameof(KVM_CAP_READONLY_MEM)),
    ];

    /// <summary><c>KVM_CHECK_EXTENSION</c>: 0 when unsupported, otherwise a capability-specific positive value.</summary>
    public int CheckExtension(int capability) => LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_CHECK_EXTENSION, (ulong)capability);

    public int MaxVcpus => Math.Max(CheckExtension(KVM_CAP_MAX_VCPUS), CheckExtension(KVM_CAP_NR_VCPUS));

    /// <summary><c>KVM_GET_SUPPORTED_CPUID</c>, growing the buffer until the kernel's list fits.</summary>
    internal kvm_cpuid_entry2[] GetSupportedCpuid()
    {
        for (var capacity = 64; capacity <= 4096; capacity *= 2)
        {
            var bytes = sizeof(kvm_cpuid2) + (capacity * sizeof(kvm_cpuid_entry2));
            var buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                // SAFETY: buffer holds a kvm_cpuid2 header followed by `capacity` entries, as nent says.
                ((kvm_cpuid2*)buffer)->nent = (uint)capacity;
                if (LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_SUPPORTED_CPUID, buffer) < 0)
                {
                    if (LibcCalls.Errno == 7) // E2BIG: try a larger buffer
                        continue;
                    KvmException.Throw(nameof(KvmIoctls.KVM_GET_SUPPORTED_CPUID), LibcCalls.Errno);
                }
                var count = (int)((kvm_cpuid2*)buffer)->nent;
                return new ReadOnlySpan<kvm_cpuid_entry2>(buffer + sizeof(kvm_cpuid2), count).ToArray();
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new KvmException(nameof(KvmIoctls.KVM_GET_SUPPORTED_CPUID), 7);
    }

    private uint[]? _msrIndexList;

    /// <summary><c>KVM_GET_MSR_INDEX_LIST</c>: the MSRs this host's KVM saves and restores (read once, then kept).</summary>
    internal IReadOnlyList<uint> MsrIndexList => _msrIndexList ??= ReadMsrIndexList();

    private uint[] ReadMsrIndexList()
    {
        for (var capacity = 256; capacity <= 16384; capacity *= 2)
        {
            var buffer = (byte*)NativeMemory.AllocZeroed((nuint)(sizeof(kvm_msr_list) + (capacity * sizeof(uint))));
            try
            {
                // SAFETY: buffer holds a kvm_msr_list header followed by `capacity` u32 indices, as nmsrs says.
                ((kvm_msr_list*)buffer)->nmsrs = (uint)capacity;
                if (LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_GET_MSR_INDEX_LIST, buffer) < 0)
                {
                    if (LibcCalls.Errno == 7) // E2BIG: the kernel wrote the count it needs; try a larger buffer
                        continue;
                    KvmException.Throw(nameof(KvmIoctls.KVM_GET_MSR_INDEX_LIST), LibcCalls.Errno);
                }
                var count = (int)((kvm_msr_list*)buffer)->nmsrs;
                return new ReadOnlySpan<uint>(buffer + sizeof(kvm_msr_list), count).ToArray();
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new KvmException(nameof(KvmIoctls.KVM_GET_MSR_INDEX_LIST), 7);
    }

    public KvmVm CreateVm()
    {
        var fd = LibcCalls.Ioctl(_fd.Value, KvmIoctls.KVM_CREATE_VM, 0UL);
        KvmException.ThrowIfFailed(fd, nameof(KvmIoctls.KVM_CREATE_VM));
        return new KvmVm(this, new FileDescriptor(fd));
    }

    public void Dispose() => _fd.Dispose();
}
