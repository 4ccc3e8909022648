using Vdi.Vmm.Sandbox;

namespace Vdi.Vmm.Tests.Sandbox;

public sealed class SandboxReportTests
{
    [Fact]
    public void The_level_is_full_only_when_every_step_applied_and_each_missing_step_says_why()
    {
        var report = new SandboxReport();
        Assert.Equal(SandboxLevel.None, report.Level);
        report.Add("seccomp", true, "73 system calls allowed");
        Assert.Equal(SandboxLevel.Full, report.Level);
        report.Add("cgroup", false, "no cgroup v2 mounted: limits by rlimit");
        Assert.Equal(SandboxLevel.Partial, report.Level);
        Assert.Equal(
            ["sandbox: Partial (0 ms)", "sandbox: seccomp: 73 system calls allowed", "sandbox: cgroup: unavailable: no cgroup v2 mounted: limits by rlimit"],
            report.Lines());

        var nothing = new SandboxReport();
        nothing.Add("seccomp", false, "no filters");
        Assert.Equal(SandboxLevel.None, nothing.Level);
    }
}
