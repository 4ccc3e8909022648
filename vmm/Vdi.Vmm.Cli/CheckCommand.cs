using Vdi.Vmm.Kvm;

namespace Vdi.Vmm.Cli;

/// <summary>`vdi-vmm check`: opens the KVM device and verifies the API version and every capability the VMM needs.</summary>
internal static class CheckCommand
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var device = options.Text("device");
        options.EnsureConsumed();
        using var kvm = KvmSystem.Open(device);
        await stdout.WriteLineAsync($"KVM ready at {kvm.DevicePath}: API 12, up to {kvm.MaxVcpus} vCPUs per VM").ConfigureAwait(false);
        return 0;
    }
}
