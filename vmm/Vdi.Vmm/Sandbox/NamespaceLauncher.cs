using System.Runtime.InteropServices;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// Puts the process in a mount namespace of its own. A namespace belongs to a thread, and the kernel refuses to
/// move a multi-threaded process's threads together (unshare(CLONE_NEWNS) would move only the calling thread; setns
/// of a mount namespace needs an unshared fs_struct) — and a .NET process has threads before Main runs. So the
/// process re-executes itself, same pid, through util-linux's <c>unshare --mount --propagation private</c> (plus
/// <c>--user --map-root-user</c> when not root), which unshares while single-threaded and then execs the same
/// command line again with <see cref="MarkerVariable"/> set. The broker can equally start the host process that way.
/// </summary>
public static unsafe class NamespaceLauncher
{
    /// <summary>Set in the re-executed process: its mount namespace is its own.</summary>
    public const string MarkerVariable = "VDI_SANDBOX_NAMESPACE";

    private static readonly string[] s_unshare = ["/usr/bin/unshare", "/bin/unshare"];

    /// <summary>True when this process was started in a private mount namespace by <see cref="Reexecute"/>.</summary>
    public static bool InOwnNamespace => Environment.GetEnvironmentVariable(MarkerVariable) is "root" or "user";

    /// <summary>"root" or "user" (a user namespace mapping the caller to root), or null.</summary>
    public static string? Kind => Environment.GetEnvironmentVariable(MarkerVariable);

    /// <summary>Re-executes this process in a new mount namespace; returns only on failure, with the reason.</summary>
    public static string Reexecute()
    {
        var unshare = s_unshare.FirstOrDefault(File.Exists);
        if (unshare is null)
            return "util-linux's unshare not found";
        var commandLine = File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        var asRoot = Tmds.Linux.LibC.geteuid() == 0;
        var argv = new List<string> { unshare, "--mount", "--propagation", "private" };
        if (!asRoot)
            argv.AddRange(["--user", "--map-root-user"]);
        argv.Add("--");
        argv.AddRange(commandLine);
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Where(e => (string)e.Key is not MarkerVariable and not "DOTNET_EnableDiagnostics")
            .Select(e => $"{e.Key}={e.Value}")
            .Append($"{MarkerVariable}={(asRoot ? "root" : "user")}")
            // No diagnostics IPC socket or debugger pipes: they live in /tmp, which the jail does not have.
            .Append("DOTNET_EnableDiagnostics=0")
            .ToList();
        Console.Out.Flush();
        Console.Error.Flush();
        var argvBlock = ToCStrings(argv);
        var envBlock = ToCStrings(env);
        try
        {
            fixed (nint* a = argvBlock.Pointers, e = envBlock.Pointers)
            {
                // SAFETY: both arrays are NULL-terminated and point into pinned buffers freed only if execve returns.
                _ = Tmds.Linux.LibC.execve((byte*)argvBlock.Pointers[0], (byte**)a, (byte**)e);
            }
            return $"execve({unshare}) failed: {Interop.LibcCalls.Describe(Interop.LibcCalls.Errno)}";
        }
        finally
        {
            argvBlock.Free();
            envBlock.Free();
        }
    }

    private sealed record CStrings(nint[] Pointers)
    {
        public void Free()
        {
            foreach (var p in Pointers)
                Marshal.FreeHGlobal(p);
        }
    }

    private static CStrings ToCStrings(List<string> strings)
    {
        var pointers = new nint[strings.Count + 1];
        for (var i = 0; i < strings.Count; i++)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(strings[i] + "\0");
            pointers[i] = Marshal.AllocHGlobal(bytes.Length);
            Marshal.Copy(bytes, 0, pointers[i], bytes.Length);
        }
        return new CStrings(pointers);
    }
}
