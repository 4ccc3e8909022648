using System.ComponentModel;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Vdi.Vmm.Interop;

/// <summary>The libc surface the VMM uses, on top of Tmds.LibC; every call returns errno on failure instead of throwing.</summary>
internal static unsafe class LibcCalls
{
    public static int Errno => errno;

    public static string Describe(int err) => new Win32Exception(err).Message;

    public static int Open(string path, bool readWrite = true)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            // SAFETY: p points at a NUL-terminated copy of the path that outlives the call.
            return open(p, (readWrite ? O_RDWR : 0) | O_CLOEXEC, 0);
        }
    }

    public static int Close(int fd) => close(fd);

    public static int Ioctl(int fd, int request) => ioctl(fd, request);

    public static int Ioctl(int fd, int request, ulong argument) => ioctl(fd, request, (void*)argument);

    public static int Ioctl(int fd, int request, void* argument) => ioctl(fd, request, argument);

    /// <summary>Anonymous private mapping, not reserved against overcommit, kept out of core dumps.</summary>
    public static nint MapAnonymous(ulong size)
    {
        var p = mmap(null, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return 0;
        // Guest RAM in a host core dump is both huge and private to the guest; failing to exclude it is harmless.
        _ = madvise(p, (size_t)size, MADV_DONTDUMP);
        return (nint)p;
    }

    public static nint MapShared(int fd, ulong size)
    {
        var p = mmap(null, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        return p == MAP_FAILED ? 0 : (nint)p;
    }

    public static int Unmap(nint address, ulong size) => munmap((void*)address, (size_t)size);

    public static int EventFd() => eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    public static int GetThreadId() => (int)syscall(X86Constants.SYS_gettid);

    public static int SignalThread(int tid, int signal) =>
        (int)syscall(X86Constants.SYS_tgkill, (int)getpid(), tid, signal);
}
