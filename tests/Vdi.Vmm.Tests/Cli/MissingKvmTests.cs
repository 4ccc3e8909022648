using System.Diagnostics;

namespace Vdi.Vmm.Tests.Cli;

public sealed class MissingKvmTests
{
    [Fact]
    public async Task Runner_asked_for_kvm_without_the_device_prints_one_line_naming_it_and_exits_2()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "vdi-vmm.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(cli);
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("--engine");
        info.ArgumentList.Add("kvm");
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

    [Fact]
    public async Task Runner_without_the_kvm_device_runs_the_guest_on_the_software_engine_and_says_so()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "vdi-vmm.dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(cli);
        info.ArgumentList.Add("run");
        info.ArgumentList.Add("--power-off-when-idle");
        info.Environment["VDI_KVM_DEVICE"] = "/nonexistent/kvm";
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("power off", stdout, StringComparison.Ordinal);
        var line = Assert.Single((await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("vdi-vmm: running on the software engine (no usable KVM: cannot open /nonexistent/kvm", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--vcpus", "0", "--vcpus must be a whole number from 1 to 16")]
    [InlineData("--memory", "lots", "--memory must be a whole number")]
    [InlineData("--frobnicate", "1", "unknown option --frobnicate")]
    [InlineData("--seconds", "0", "--seconds must be a whole number from 1 to 3600")]
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

public sealed class DisplayOptionTests
{
    [Theory]
    [InlineData("1280x720", 1280, 720, 96)]
    [InlineData("2560x1440@192", 2560, 1440, 192)]
    [InlineData("1366x768@120.5", 1366, 768, 120.5)]
    public void Display_spec_parses_size_and_dpi(string text, int width, int height, double dpi)
    {
        var p = Vdi.Vmm.Cli.DisplaySpec.Parse(text);
        Assert.Equal((width, height, dpi), (p.Width, p.Height, p.Dpi));
    }

    [Theory]
    [InlineData("1280*720", "--display must look like")]
    [InlineData("100x100", "Width")]
    [InlineData("9000x720@96", "Width")]
    [InlineData("1280x720@5000", "Dpi")]
    public async Task Bad_display_options_get_one_line_naming_the_problem(string text, string message)
    {
        var stderr = new StringWriter();
        var code = await Vdi.Vmm.Cli.Cli.RunAsync(["run", "--display", text], new StringWriter(), stderr);
        Assert.Equal(64, code);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
        Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
