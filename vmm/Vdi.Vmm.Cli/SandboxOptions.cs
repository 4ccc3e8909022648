using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `--sandbox [--sandbox-dir DIR] [--memory-limit MiB] [--cpu-percent N]`: the sandbox a desktop's host process
/// applies to itself (docs/sandbox.md). The first thing a sandboxed command does is re-execute itself in a mount
/// namespace of its own; a failure there is reported and the rest of the sandbox still applies.
/// </summary>
internal static class SandboxOptions
{
    public static SandboxConfig? Parse(CliOptions options, bool sandbox)
    {
        var directory = options.Text("sandbox-dir");
        var memory = options.Int("memory-limit", 0, 16, 1 << 20);
        var cpu = options.Int("cpu-percent", 0, 1, 100 * 64);
        if (!sandbox)
        {
            if (directory is not null || memory != 0 || cpu != 0)
                throw new ArgumentException("--sandbox-dir, --memory-limit and --cpu-percent need --sandbox");
            return null;
        }
        if (directory is not null && !Directory.Exists(directory))
            throw new ArgumentException($"--sandbox-dir {directory} is not a folder");
        return new SandboxConfig
        {
            WorkDirectory = directory is null ? null : Path.GetFullPath(directory),
            MemoryLimitBytes = memory == 0 ? null : (ulong)memory << 20,
            CpuPercent = cpu == 0 ? null : cpu,
        };
    }

    /// <summary>Re-executes into a private mount namespace unless already there; returns only if that failed.</summary>
    public static void EnterNamespace(TextWriter stderr)
    {
        if (NamespaceLauncher.InOwnNamespace)
            return;
        var reason = NamespaceLauncher.Reexecute();
        stderr.WriteLine($"vdi-vmm: sandbox: no mount namespace of its own: {reason}");
    }

    /// <summary>Applies the sandbox and prints its report, one line per step, to <paramref name="stderr"/>.</summary>
    public static SandboxReport Apply(SandboxConfig config, TextWriter stderr)
    {
        var report = ProcessSandbox.Apply(config);
        foreach (var line in report.Lines())
            stderr.WriteLine($"vdi-vmm: {line}");
        stderr.Flush();
        return report;
    }
}
