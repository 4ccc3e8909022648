using System.Diagnostics;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// Applies the sandbox to the calling process, in a fixed order: the mount namespace is already the process's own
/// (it was re-executed into it, <see cref="NamespaceLauncher"/>); cgroup and rlimits (they need /proc and /sys, which
/// the jail no longer has); the mount jail; no_new_privs; the SIGSYS reporter; and the seccomp filter last, after
/// <see cref="RuntimeWarmup"/> — threads started later inherit the filter, and TSYNC gives it to those running.
/// Each step that cannot apply here says why in the report; the filter is installed whatever else failed.
/// </summary>
public static class ProcessSandbox
{
    /// <summary>Applies everything; returns the report. Irreversible.</summary>
    public static SandboxReport Apply(SandboxConfig config)
    {
        var report = new SandboxReport();
        var clock = Stopwatch.StartNew();
        _ = RuntimeWarmup.Run();

        if (!config.FileSystem)
            report.Add("mount namespace", false, "not asked for");
        else if (NamespaceLauncher.InOwnNamespace)
            report.Add("mount namespace", true, NamespaceLauncher.Kind == "user" ? "own, inside a user namespace (mapped root)" : "own");
        else
            report.Add("mount namespace", false, "the process was not started in one of its own (see NamespaceLauncher)");

        ResourceLimits.Apply(config, report);

        if (NamespaceLauncher.InOwnNamespace && config.FileSystem)
        {
            var error = MountJail.Enter(config, out var detail);
            report.Add("filesystem", error is null, error ?? detail);
        }
        else
        {
            report.Add("filesystem", false, "no mount namespace of its own: the host's filesystem stays visible");
        }

        var nnp = NoNewPrivileges.Apply();
        report.Add("no_new_privs", nnp is null, nnp ?? "set");

        var allowed = SyscallAllowList.For(Environment.ProcessId);
        var seccomp = SigsysReporter.Install() ?? SeccompFilter.Install(BpfProgram.Build(allowed));
        report.Add("seccomp", seccomp is null,
            seccomp ?? $"{allowed.Count} system calls allowed on every thread, anything else reported and killed (SIGSYS)");
        report.Elapsed = clock.Elapsed;
        return report;
    }
}
