using System.Globalization;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench engines`: both engines side by side in one run — guest instructions per second on the calibration
/// guest's ALU and memory loops, the cost of an exit, and the desktop's 1920x1080 repaint (request → full flush) —
/// each the median of several calibrations, with the engine <c>auto</c> chooses on this host.
/// </summary>
internal static class BenchEngines
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 5, 1, 100);
        var repaints = options.Int("repaints", 5, 1, 100);
        var stormIterations = options.Int("storm-iterations", 20_000, 100, 10_000_000);
        options.EnsureConsumed();

        string? kvmUnavailable = null;
        try
        {
            KvmSystem.Open().Dispose();
        }
        catch (KvmException e)
        {
            kvmUnavailable = e.Message;
        }

        var selection = EngineCalibration.Select();
        await stdout.WriteLineAsync($"auto chooses: {selection}").ConfigureAwait(false);
        await stdout.WriteLineAsync($"median of {runs} calibration runs per engine (each block ≥ {EngineCalibration.TargetBlock.TotalMilliseconds:F0} ms); repaint: median of {repaints} requests").ConfigureAwait(false);
        await stdout.WriteLineAsync("  engine     ALU loop            memory loop         exit          1920x1080 repaint").ConfigureAwait(false);
        foreach (var engine in new[] { EngineChoice.Software, EngineChoice.Kvm })
        {
            if (engine == EngineChoice.Kvm && kvmUnavailable is not null)
            {
                await stdout.WriteLineAsync($"  KVM        not measured: {kvmUnavailable}").ConfigureAwait(false);
                continue;
            }
            var figures = Enumerable.Range(0, runs).Select(_ => EngineCalibration.Measure(engine, budget: TimeSpan.FromMilliseconds(200))).ToList();
            var repaint = await RepaintAsync(engine, repaints).ConfigureAwait(false);
            await stdout.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"  {(engine == EngineChoice.Kvm ? "KVM" : "software"),-9}  {EngineFigures.Rate(Statistics.Median([.. figures.Select(f => f.AluInstructionsPerSecond)])),-18}  {EngineFigures.Rate(Statistics.Median([.. figures.Select(f => f.MemoryInstructionsPerSecond)])),-18}  {EngineFigures.Duration(Statistics.Median([.. figures.Select(f => f.ExitNanoseconds)])),-12}  {repaint}")).ConfigureAwait(false);
        }

        // Exit-storm switching: the same port-I/O loop on KVM with software slices and without (goal: >= 10x).
        if (kvmUnavailable is null)
            await stdout.WriteLineAsync(Vdi.Vmm.Execution.Switching.ExitStormBenchmark.Run(stormIterations).ToString()).ConfigureAwait(false);
        else
            await stdout.WriteLineAsync("exit-storm loop: not measured (needs KVM)").ConfigureAwait(false);
        return 0;
    }

    /// <summary>Median request → full-repaint flush at 1920x1080 on <paramref name="engine"/>, alternating with a smaller mode.</summary>
    private static async Task<string> RepaintAsync(EngineChoice engine, int requests)
    {
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = 512, Image = DesktopGuest.Build(), Engine = engine });
        machine.Start();
        List<double> latency;
        try
        {
            latency = await BenchDisplay.RepaintsAsync(machine, 1920, 1080, requests, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            return $"timed out: {e.Message}";
        }
        finally
        {
            machine.Stop();
        }
        return string.Create(CultureInfo.InvariantCulture, $"{Statistics.Median(latency):F1} ms");
    }
}
