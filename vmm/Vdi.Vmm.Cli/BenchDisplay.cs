using System.Diagnostics;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench display`: for 1920x1080 and 3840x2160, the time from RequestAsync to the guest's
/// full-repaint flush of the new mode (the guest reads the request, lays out, repaints and flushes).
/// Each sample alternates with a slightly smaller mode so every request is a real change.
/// </summary>
internal static class BenchDisplay
{
    private static readonly (int Width, int Height)[] s_modes = [(1920, 1080), (3840, 2160)];

    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 20, 1, 1000);
        var engine = options.Engine(Execution.EngineChoice.Kvm);
        options.EnsureConsumed();
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = 512, Image = DesktopGuest.Build(), Engine = engine });
        await stdout.WriteLineAsync($"engine: {machine.Engine}").ConfigureAwait(false);
        machine.Start();
        var gpu = machine.Devices.Gpu;
        await stdout.WriteLineAsync($"display reconfiguration, desktop guest, median/p95 of {runs} requests per mode").ConfigureAwait(false);
        foreach (var (width, height) in s_modes)
        {
            var latency = await RepaintsAsync(machine, width, height, runs, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await stdout.WriteLineAsync(
                $"  {width}x{height}  request→full flush median {Statistics.Median(latency),6:F2} ms  p95 {Statistics.Percentile(latency, 0.95),6:F2} ms").ConfigureAwait(false);
        }
        machine.Stop();
        return 0;
    }

    /// <summary>
    /// Milliseconds from each request for <paramref name="width"/>x<paramref name="height"/> to the guest's full-repaint
    /// flush; every sample alternates with a mode 16 pixels smaller, so each request is a real change.
    /// </summary>
    internal static async Task<List<double>> RepaintsAsync(Vmm.Machine.Machine machine, int width, int height, int runs, TimeSpan timeout)
    {
        var latency = new List<double>(runs);
        for (var run = 0; run < runs; run++)
        {
            await machine.Devices.Display.RequestAsync(new DisplayProperties(width - 16, height - 16), timeout).ConfigureAwait(false);
            var ack = await machine.Devices.Display.RequestAsync(new DisplayProperties(width, height), timeout).ConfigureAwait(false);
            latency.Add(ack.Elapsed.TotalMilliseconds);
        }
        return latency;
    }
}
