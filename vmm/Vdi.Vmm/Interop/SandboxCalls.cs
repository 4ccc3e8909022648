using System.Runtime.InteropServices;

namespace Vdi.Vmm.Interop;

/// <summary>
/// The raw system calls the sandbox makes, through libc's <c>syscall()</c>: prctl, seccomp, mount, umount2,
/// pivot_root, prlimit64, setpriority and rt_sigaction have no wrapper in Tmds.LibC or take kernel (not glibc)
/// structs. Each returns the kernel's result; on -1 the errno is in <see cref="LastErrno"/>.
/// </summary>
internal static unsafe partial class SandboxCalls
{
    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a1, long a2, long a3, long a4, long a5);

    public static int LastErrno => Marshal.GetLastPInvokeError();

    public static long Call(long number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) =>
        Syscall(number, a1, a2, a3, a4, a5);

    public static int Prctl(int option, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) =>
        (int)Syscall(SandboxConstants.SYS_prctl, option, a2, a3, a4, a5);

    /// <summary><c>mount(2)</c>; null strings pass NULL.</summary>
    public static int Mount(string? source, string target, string? type, ulong flags, string? data)
    {
        var s = source is null ? null : Utf8(source);
        var t = Utf8(target);
        var f = type is null ? null : Utf8(type);
        var d = data is null ? null : Utf8(data);
        fixed (byte* ps = s, pt = t, pf = f, pd = d)
        {
            // SAFETY: every pointer is null or a pinned NUL-terminated copy that outlives the call.
            return (int)Syscall(SandboxConstants.SYS_mount, (long)ps, (long)pt, (long)pf, (long)flags, (long)pd);
        }
    }

    public static int Umount2(string target, int flags)
    {
        fixed (byte* p = Utf8(target))
        {
            // SAFETY: p is a pinned NUL-terminated copy of the path.
            return (int)Syscall(SandboxConstants.SYS_umount2, (long)p, flags, 0, 0, 0);
        }
    }

    public static int PivotRoot(string newRoot, string putOld)
    {
        fixed (byte* n = Utf8(newRoot), o = Utf8(putOld))
        {
            // SAFETY: both pointers are pinned NUL-terminated copies of the paths.
            return (int)Syscall(SandboxConstants.SYS_pivot_root, (long)n, (long)o, 0, 0, 0);
        }
    }

    /// <summary>Sets (both soft and hard) and returns 0, or -1 with errno.</summary>
    public static int SetLimit(int resource, ulong value)
    {
        var limit = stackalloc ulong[2] { value, value };
        // SAFETY: limit is a local struct rlimit64 { cur, max }; the old-limit pointer is NULL.
        return (int)Syscall(SandboxConstants.SYS_prlimit64, 0, resource, (long)limit, 0, 0);
    }

    public static ulong GetLimit(int resource)
    {
        var limit = stackalloc ulong[2];
        // SAFETY: prlimit64 writes struct rlimit64 { cur, max } into the local; the new-limit pointer is NULL.
        return Syscall(SandboxConstants.SYS_prlimit64, 0, resource, 0, (long)limit, 0) == 0 ? limit[0] : ulong.MaxValue;
    }

    private static byte[] Utf8(string s) => System.Text.Encoding.UTF8.GetBytes(s + "\0");
}
