using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Kvm;

/// <summary>A failed KVM operation: carries the ioctl (or call) name and the errno it returned.</summary>
public sealed class KvmException : Exception
{
    public KvmException(string operation, int errno)
        : base($"{operation} failed: {LibcCalls.Describe(errno)} (errno {errno})")
    {
        Operation = operation;
        Errno = errno;
    }

    private KvmException(string operation, int errno, string message)
        : base(message)
    {
        Operation = operation;
        Errno = errno;
    }

    public string Operation { get; }

    public int Errno { get; }

    /// <summary>True when the KVM device itself could not be opened (missing, no permission, no driver).</summary>
    public bool DeviceUnavailable { get; private init; }

    /// <summary>The one-line explanation a user sees when the KVM device cannot be opened.</summary>
    public static KvmException CannotOpenDevice(string path, int errno)
    {
        var reason = LibcCalls.Describe(errno);
        var fix = errno switch
        {
            2 => "this host needs KVM: enable virtualization (VT-x/AMD-V, or nested virtualization in a VM) and load kvm_intel or kvm_amd",
            13 or 1 => $"give this user read/write access to {path} (e.g. add it to the 'kvm' group, then log in again)",
            19 or 6 => "the KVM driver is not bound on this host: enable hardware virtualization (VT-x/AMD-V, or nested virtualization in a VM)",
            _ => $"check that {path} is the KVM device and is readable and writable",
        };
        return new KvmException("open", errno, $"cannot open {path}: {reason}; {fix}.") { DeviceUnavailable = true };
    }

    internal static void ThrowIfFailed(int result, string operation)
    {
        if (result < 0)
            Throw(operation, LibcCalls.Errno);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void Throw(string operation, int errno) => throw new KvmException(operation, errno);
}
