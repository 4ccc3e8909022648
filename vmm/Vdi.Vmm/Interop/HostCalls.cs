using System.Runtime.InteropServices;

namespace Vdi.Vmm.Interop;

/// <summary>
/// The raw calls behind a desktop host's control socket and shared scanout: <c>sendmsg</c>/<c>recvmsg</c> with
/// SCM_RIGHTS (the socket's bytes go through these two only: the sandbox allows them, not recvfrom/sendto),
/// <c>memfd_create</c> and its seals, <c>shutdown</c>. Each returns the kernel's result; on -1 the errno is in
/// <see cref="LastErrno"/>.
/// </summary>
internal static unsafe partial class HostCalls
{
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;
    public const int SHUT_RDWR = 2;
    public const uint MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
    public const int F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0x800;
    public const int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    public const int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;
    public const int EINTR = 4, EAGAIN = 11;

#pragma warning disable CS8981 // the kernel's names, as the raw tier keeps them
    /// <summary><c>struct iovec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct iovec
    {
        public void* iov_base;
        public nuint iov_len;
    }

    /// <summary><c>struct msghdr</c> (x86-64: 56 bytes).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 56)]
    public struct msghdr
    {
        [FieldOffset(0)] public void* msg_name;
        [FieldOffset(8)] public uint msg_namelen;
        [FieldOffset(16)] public iovec* msg_iov;
        [FieldOffset(24)] public nuint msg_iovlen;
        [FieldOffset(32)] public void* msg_control;
        [FieldOffset(40)] public nuint msg_controllen;
        [FieldOffset(48)] public int msg_flags;
    }

#pragma warning restore CS8981

    /// <summary><c>struct cmsghdr</c> followed by one descriptor: CMSG_SPACE(sizeof(int)) is 24 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 24)]
    public struct cmsg_fd
    {
        [FieldOffset(0)] public nuint cmsg_len;
        [FieldOffset(8)] public int cmsg_level;
        [FieldOffset(12)] public int cmsg_type;
        [FieldOffset(16)] public int fd;
    }

    public const int CMSG_LEN_FD = 20; // CMSG_LEN(sizeof(int))
    public const int MSG_CTRUNC = 0x8;

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(int fd, msghdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(int fd, msghdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "memfd_create", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    public static partial long Lseek(int fd, long offset, int whence);

    public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, SEEK_END = 2;

    public static nint MapFailed => -1;

    public static int LastErrno => Marshal.GetLastPInvokeError();
}
