namespace Vdi.Vmm.Tests.Cli;

public sealed class CheckCommandTests
{
    [Fact]
    public async Task Check_on_a_file_that_is_not_a_kvm_device_fails_in_one_line()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vdi-not-kvm-{Guid.NewGuid():N}");
        var stderr = new StringWriter();
        int code;
        await File.WriteAllBytesAsync(path, []);
        try
        {
            // A regular file opens, but KVM_GET_API_VERSION on it fails with ENOTTY.
            code = await Vdi.Vmm.Cli.Cli.RunAsync(["check", "--device", path], new StringWriter(), stderr);
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"vdi-vmm: cannot open {path}: Inappropriate ioctl for device;", line, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }
}

public sealed class CheckCommandMissingDeviceTests
{
    [Fact]
    public async Task Check_on_a_missing_device_fails_in_one_line_and_creates_nothing()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vdi-missing-{Guid.NewGuid():N}");
        var stderr = new StringWriter();
        var code = await Vdi.Vmm.Cli.Cli.RunAsync(["check", "--device", path], new StringWriter(), stderr);
        Assert.Equal(2, code);
        Assert.StartsWith($"vdi-vmm: cannot open {path}: No such file or directory;", stderr.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }
}
