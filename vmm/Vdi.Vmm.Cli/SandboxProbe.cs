using System.Runtime.InteropServices;
using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm sandbox-probe [--sandbox …] [--open PATH] [--allocate MiB] [--forbidden-call NAME [--from-thread]]`: test-only. Applies
/// the sandbox (with --sandbox), then tries what a hostile guest that took over the process would: open a file
/// (the broker's data folder), allocate memory past the limit, make a system call outside the allow-list. Prints
/// one line per attempt; a forbidden call ends the process by SIGSYS with the reporter's line on stderr.
/// </summary>
internal static class SandboxProbe
{
    /// <summary>Calls harmless with every argument zero, and outside the allow-list.</summary>
    private static readonly string[] s_forbidden = ["ptrace", "socket", "kill", "mount", "unshare"];

    public static int Execute(CliOptions options, TextWriter stdout, TextWriter stderr)
    {
        var sandbox = SandboxOptions.Parse(options, options.Flag("sandbox"));
        var open = options.Text("open");
        var allocate = options.Int("allocate", 0, 1, 1 << 20);
        var forbidden = options.Text("forbidden-call");
        var fromThread = options.Flag("from-thread");
        options.EnsureConsumed();
        if (forbidden is not null && !s_forbidden.Contains(forbidden))
            throw new ArgumentException($"--forbidden-call must be one of {string.Join(", ", s_forbidden)}, not '{forbidden}'");

        if (sandbox is not null)
            SandboxOptions.EnterNamespace(stderr);
        // --from-thread: the call comes from a thread started before the filter, which only TSYNC reaches.
        using var go = new ManualResetEventSlim();
        var caller = fromThread && forbidden is not null ? new Thread(() => { go.Wait(); Call(forbidden, stdout); }) : null;
        caller?.Start();
        if (sandbox is not null)
            SandboxOptions.Apply(sandbox, stderr);

        if (open is not null)
        {
            try
            {
                stdout.WriteLine($"open {open}: ok, {File.ReadAllBytes(open).Length} bytes");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stdout.WriteLine($"open {open}: refused: {e.GetType().Name}");
            }
        }
        if (allocate != 0)
            stdout.WriteLine($"allocate {allocate} MiB: {Allocate((ulong)allocate << 20)}");
        if (caller is not null)
        {
            go.Set();
            caller.Join();
        }
        else if (forbidden is not null)
        {
            Call(forbidden, stdout);
        }
        stdout.Flush();
        return 0;
    }

    private static void Call(string name, TextWriter stdout)
    {
        stdout.WriteLine($"calling {name}");
        stdout.Flush();
        var result = ProbeCall.Make(name);
        stdout.WriteLine($"{name} returned {result}");
        stdout.Flush();
    }

    /// <summary>Allocates native memory (malloc maps it) and writes every page, as guest RAM or a GC heap would.</summary>
    private static string Allocate(ulong bytes)
    {
        nint p;
        try
        {
            p = Marshal.AllocHGlobal((nint)bytes);
        }
        catch (OutOfMemoryException)
        {
            return "refused: out of memory";
        }
        for (ulong offset = 0; offset < bytes; offset += 4096)
            Marshal.WriteByte(p, (int)offset, 1);
        Marshal.FreeHGlobal(p);
        return "ok";
    }
}
