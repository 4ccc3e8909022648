using Vdi.Vmm.Execution;
using Vdi.Vmm.Kvm;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm check`: opens the KVM device and verifies the API version and every capability the VMM needs, then
/// calibrates both engines and prints, one line each, their figures and the engine <c>auto</c> chooses. Exits 0 when
/// KVM is usable (whichever engine wins), 2 with the one-line reason when it is not.
/// </summary>
internal static class CheckCommand
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var device = options.Text("device");
        options.EnsureConsumed();
        KvmException? unavailable = null;
        try
        {
            using var kvm = KvmSystem.Open(device);
            await stdout.WriteLineAsync($"KVM ready at {kvm.DevicePath}: API 12, up to {kvm.MaxVcpus} vCPUs per VM").ConfigureAwait(false);
        }
        catch (KvmException e) when (e.DeviceUnavailable)
        {
            unavailable = e;
        }

        var selection = EngineCalibration.Calibrate(device);
        await stdout.WriteLineAsync(selection.Kvm is { } k ? $"{k}" : $"KVM: not measured ({unavailable?.Message ?? selection.Reason})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"{selection.Software}").ConfigureAwait(false);
        await stdout.WriteLineAsync($"auto runs desktops on: {selection}").ConfigureAwait(false);
        if (unavailable is not null)
            throw unavailable;
        return 0;
    }
}
