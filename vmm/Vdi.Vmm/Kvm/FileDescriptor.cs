using System.Runtime.InteropServices;
using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Kvm;

/// <summary>An owned Linux file descriptor, closed exactly once (on Dispose, or by the finalizer if leaked).</summary>
internal sealed class FileDescriptor : SafeHandle
{
    public FileDescriptor(int fd)
        : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The raw descriptor for ioctl calls; callers guarantee the owner is not disposed concurrently.</summary>
    public int Value => (int)handle;

    protected override bool ReleaseHandle() => LibcCalls.Close((int)handle) == 0;
}
