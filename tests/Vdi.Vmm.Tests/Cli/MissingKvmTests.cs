using System.Diagnostics;

namespace Vdi.Vmm.Tests.Cli;

public sealed class MissingKvmTests
{
    [Fact]
    public async Task Runner_without_the_kvm_device_prints_one_line_naming_it_and_exits_2()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "vdi-vmm.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(cli);
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("--vcpus");
        info.ArgumentList.Add("4");
        info.Environment["VDI_KVM_DEVICE"] = "/nonexistent/kvm";
        using var process = Process.Start(info)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("vdi-vmm: cannot open /nonexistent/kvm: No such file or directory;", line, StringComparison.Ordinal);
        Assert.Contains("kvm_intel or kvm_amd", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--vcpus", "0", "--vcpus must be a whole number from 1 to 16")]
    [InlineData("--memory", "lots", "--memory must be a whole number")]
    [InlineData("--frobnicate", "1", "unknown option --frobnicate")]
    public async Task Runner_rejects_bad_options_with_one_line_naming_them(string option, string value, string message)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Vdi.Vmm.Cli.Cli.RunAsync(["run", option, value], stdout, stderr);
        Assert.Equal(64, code);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr.ToString(), StringComparison.Ordinal);
    }
}
