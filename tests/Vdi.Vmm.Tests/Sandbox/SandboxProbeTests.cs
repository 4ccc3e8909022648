using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Tests.Sandbox;

/// <summary>
/// What code that took over a sandboxed VMM process can no longer do. Each test runs the same probe without the
/// sandbox first, so it shows the sandbox (not the probe) makes the difference.
/// </summary>
public sealed class SandboxProbeTests
{
    [Fact]
    public async Task A_forbidden_system_call_kills_the_process_and_the_parent_learns_which_call()
    {
        var free = await VmmProcess.RunAsync("sandbox-probe", "--forbidden-call", "ptrace");
        Assert.Equal(0, free.ExitCode);
        Assert.Contains("ptrace returned", free.Stdout, StringComparison.Ordinal);

        var jailed = await VmmProcess.RunAsync("sandbox-probe", "--sandbox", "--forbidden-call", "ptrace");
        Assert.Contains("calling ptrace", jailed.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("ptrace returned", jailed.Stdout, StringComparison.Ordinal);
        Assert.True(SandboxExit.KilledBySeccomp(jailed.ExitCode), $"exit {jailed.ExitCode}; stderr: {jailed.Stderr}");
        Assert.Equal("killed by seccomp: system call 101 (ptrace)", SandboxExit.Describe(jailed.ExitCode, jailed.Stderr));
    }

    [Fact]
    public async Task A_thread_started_before_the_filter_is_bound_by_it_too()
    {
        var free = await VmmProcess.RunAsync("sandbox-probe", "--forbidden-call", "kill", "--from-thread");
        Assert.Contains("kill returned", free.Stdout, StringComparison.Ordinal);

        var jailed = await VmmProcess.RunAsync("sandbox-probe", "--sandbox", "--forbidden-call", "kill", "--from-thread");
        Assert.DoesNotContain("kill returned", jailed.Stdout, StringComparison.Ordinal);
        Assert.Equal("killed by seccomp: system call 62 (kill)", SandboxExit.Describe(jailed.ExitCode, jailed.Stderr));
    }

    [Fact]
    public async Task A_call_the_runtime_never_makes_is_reported_by_name_too()
    {
        var jailed = await VmmProcess.RunAsync("sandbox-probe", "--sandbox", "--forbidden-call", "socket");
        Assert.Equal("killed by seccomp: system call 41 (socket)", SandboxExit.Describe(jailed.ExitCode, jailed.Stderr));
    }

    [Fact]
    public async Task The_broker_data_folder_cannot_be_opened_from_inside()
    {
        using var data = VmmProcess.Folder("broker-data");
        using var work = VmmProcess.Folder("work");
        var database = Path.Combine(data.Path, "vdi.db");
        await File.WriteAllTextAsync(database, "users and keys");

        var free = await VmmProcess.RunAsync("sandbox-probe", "--open", database);
        Assert.Contains($"open {database}: ok, 14 bytes", free.Stdout, StringComparison.Ordinal);

        var jailed = await VmmProcess.RunAsync("sandbox-probe", "--sandbox", "--sandbox-dir", work.Path, "--open", database);
        Assert.Equal(0, jailed.ExitCode);
        Assert.Contains($"open {database}: refused", jailed.Stdout, StringComparison.Ordinal);
        Assert.Contains("sandbox: filesystem: pivot_root", jailed.Stderr, StringComparison.Ordinal);

        // Its own folder stays reachable: a file the parent put there can be read.
        var own = Path.Combine(work.Path, "mine");
        await File.WriteAllTextAsync(own, "ok");
        var inside = await VmmProcess.RunAsync("sandbox-probe", "--sandbox", "--sandbox-dir", work.Path, "--open", own);
        Assert.Contains($"open {own}: ok, 2 bytes", inside.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_memory_limit_refuses_an_allocation_past_it()
    {
        var free = await VmmProcess.RunAsync("sandbox-probe", "--allocate", "512");
        Assert.Contains("allocate 512 MiB: ok", free.Stdout, StringComparison.Ordinal);

        var jailed = await VmmProcess.RunAsync("sandbox-probe", "--sandbox", "--memory-limit", "256", "--allocate", "512");
        // With a delegated cgroup v2 the kernel's OOM killer ends the process (SIGKILL); with rlimits the allocation fails.
        if (jailed.Stderr.Contains("memory.max 268435456", StringComparison.Ordinal))
            Assert.Equal(128 + 9, jailed.ExitCode);
        else
            Assert.Contains("allocate 512 MiB: refused", jailed.Stdout, StringComparison.Ordinal);
        Assert.Matches("sandbox: (cgroup: .*memory.max 268435456|rlimits: .*RLIMIT_DATA 256 MiB)", jailed.Stderr);
    }
}
