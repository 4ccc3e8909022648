using System.Diagnostics;
using Vdi.Guest.Bench;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench exits`: the round trip of a guest port write through KVM, our dispatch and back,
/// next to the same loop in the C reference, in one run. Each side runs the loop with N and 2N
/// iterations; (t(2N) − t(N)) / N cancels start-up and tear-down, leaving the cost of one exit.
/// </summary>
internal static class BenchExits
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var iterations = options.Int("iterations", 100_000, 1_000, 10_000_000);
        var runs = options.Int("runs", 5, 1, 100);
        options.EnsureConsumed();

        var single = ExitLoopGuest.Build(iterations);
        var twice = ExitLoopGuest.Build(2 * iterations);
        var reference = ReferenceProgram.Build();

        var ours = new List<double>();
        var c = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            // Interleave the two so machine noise hits both alike.
            ours.Add((await TimeOursAsync(twice).ConfigureAwait(false) - await TimeOursAsync(single).ConfigureAwait(false)) / iterations);
            c.Add((double)(ReferenceProgram.Run(reference, twice.Bytes, twice.LoadAddress) - ReferenceProgram.Run(reference, single.Bytes, single.LoadAddress)) / iterations);
        }

        var oursMedian = Statistics.Median(ours);
        var cMedian = Statistics.Median(c);
        await stdout.WriteLineAsync($"exit round trip (guest `out` to port 0x520 and back), {iterations} iterations, median of {runs} runs").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  vdi-vmm     {oursMedian,8:F0} ns/exit   (runs: {string.Join(", ", ours.Select(x => x.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  C reference {cMedian,8:F0} ns/exit   (runs: {string.Join(", ", c.Select(x => x.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  ratio       {oursMedian / cMedian,8:F2}x     (goal: <= 1.20x)").ConfigureAwait(false);
        return 0;
    }

    private static async Task<double> TimeOursAsync(GuestImage image)
    {
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = 64, Image = image });
        var start = Stopwatch.GetTimestamp();
        machine.Start();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1e6;
        if (exit.Kind != MachineExitKind.PoweredOff)
            throw new InvalidOperationException($"exit-loop guest did not power off: {exit.Kind} {exit.Crash}");
        return elapsed;
    }
}
