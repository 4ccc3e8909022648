using System.Diagnostics;
using Vdi.Vmm.Cli;

namespace Vdi.Vmm.Tests.Cli;

public sealed class ReferenceProgramTests
{
    [Fact]
    public void C_reference_builds_with_cc_and_reports_a_missing_kvm_device_in_one_line()
    {
        var program = ReferenceProgram.Build();
        Assert.True(File.Exists(program));

        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("/dev/null");
        info.Environment["VDI_KVM_DEVICE"] = "/nonexistent/kvm";
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();

        Assert.Equal(2, process.ExitCode);
        Assert.Equal("exit_bench: cannot open /nonexistent/kvm: No such file or directory", stderr.Trim());
    }
}
