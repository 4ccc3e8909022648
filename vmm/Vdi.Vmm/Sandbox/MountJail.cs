using System.Runtime.InteropServices;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// The filesystem the process keeps: a fresh tmpfs root holding, at their usual paths, the .NET runtime folder and
/// the app folder (read-only binds: the runtime loads assemblies and native libraries lazily, and a read-only view
/// of public binaries is safer than guessing every load in advance), the work folder (read-write) and the device
/// nodes asked for; then <c>pivot_root</c> into it and the old root detached. No /proc, /sys, /tmp, /home or
/// data folder remains. Needs a mount namespace of the process's own (<see cref="NamespaceLauncher"/>): there,
/// pivot_root changes the root of every thread at once.
/// </summary>
public static class MountJail
{
    /// <summary>Where the new root is assembled (a tmpfs mounted over it, visible in this namespace only).</summary>
    private const string Staging = "/mnt";

    /// <summary>Enters the jail; returns null and what it holds, or why not (nothing changed then, as far as possible).</summary>
    public static string? Enter(SandboxConfig config, out string detail)
    {
        detail = "";
        var readOnly = new[] { RuntimeEnvironment.GetRuntimeDirectory(), AppContext.BaseDirectory }
            .Select(p => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p)))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var binds = readOnly.Select(p => (Source: p, Writable: false, Device: false)).ToList();
        if (config.WorkDirectory is { } work)
            binds.Add((Path.TrimEndingDirectorySeparator(Path.GetFullPath(work)), true, false));
        binds.AddRange(config.Devices.Select(d => (d, true, true)));

        // Sources are opened before the staging tmpfs may hide them, and bound from /proc/self/fd/N.
        var handles = new List<int>();
        try
        {
            foreach (var (source, _, _) in binds)
            {
                var fd = OpenPath(source);
                if (fd < 0)
                    return $"cannot open {source}: {LibcCalls.Describe(LibcCalls.Errno)}";
                handles.Add(fd);
            }
            if (SandboxCalls.Mount(null, "/", null, MS_REC | MS_PRIVATE, null) != 0)
                return Failed("making / private");
            if (SandboxCalls.Mount("tmpfs", Staging, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") != 0)
                return Failed($"mounting a tmpfs on {Staging}");
            for (var i = 0; i < binds.Count; i++)
            {
                var (source, writable, device) = binds[i];
                var target = Staging + source;
                if (device)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.WriteAllBytes(target, []);
                }
                else
                {
                    Directory.CreateDirectory(target);
                }
                if (SandboxCalls.Mount($"/proc/self/fd/{handles[i]}", target, null, MS_BIND | MS_REC, null) != 0)
                    return Failed($"binding {source}");
                var flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (writable ? 0 : MS_RDONLY) | (device ? 0 : MS_NODEV);
                if (SandboxCalls.Mount(null, target, null, flags, null) != 0)
                    return Failed($"remounting {source}");
            }
            var old = Staging + "/.old";
            Directory.CreateDirectory(old);
            if (SandboxCalls.PivotRoot(Staging, old) != 0)
                return Failed("pivot_root");
            Directory.SetCurrentDirectory("/");
            if (SandboxCalls.Umount2("/.old", MNT_DETACH) != 0)
                return Failed("detaching the old root");
            Directory.Delete("/.old");
            // The root itself becomes read-only: only the work folder takes writes.
            _ = SandboxCalls.Mount(null, "/", null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, null);
            detail = $"pivot_root into a tmpfs with {string.Join(", ", binds.Select(b => $"{b.Source} ({(b.Device ? "device" : b.Writable ? "rw" : "ro")})"))}";
            return null;
        }
        finally
        {
            foreach (var fd in handles)
                _ = LibcCalls.Close(fd);
        }
    }

    private static string Failed(string what) => $"{what} failed: {LibcCalls.Describe(SandboxCalls.LastErrno)}";

    private static unsafe int OpenPath(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            // SAFETY: p is a pinned NUL-terminated copy of the path.
            return Tmds.Linux.LibC.open(p, Tmds.Linux.LibC.O_PATH | Tmds.Linux.LibC.O_CLOEXEC, 0);
        }
    }
}
