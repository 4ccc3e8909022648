using System.Diagnostics;
using Vdi.Guest;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>`vdi-vmm bench boot`: time from VM creation to the guest's first serial byte, for 1 and 4 vCPUs.</summary>
internal static class BenchBoot
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 10, 1, 1000);
        var engine = options.Engine(Execution.EngineChoice.Kvm);
        options.EnsureConsumed();
        var image = BuiltInGuest.Build();
        await stdout.WriteLineAsync($"boot: VM creation to first serial byte, built-in guest, {engine} engine, median of {runs} runs").ConfigureAwait(false);
        foreach (var vcpus in new[] { 1, 4 })
        {
            var samples = new List<double>();
            for (var run = 0; run < runs; run++)
                samples.Add(await TimeToFirstByteAsync(image, vcpus, engine).ConfigureAwait(false));
            await stdout.WriteLineAsync($"  {vcpus} vCPU{(vcpus == 1 ? " " : "s")}  median {Statistics.Median(samples),7:F2} ms   p95 {Statistics.Percentile(samples, 0.95),7:F2} ms").ConfigureAwait(false);
        }
        return 0;
    }

    private static async Task<double> TimeToFirstByteAsync(GuestImage image, int vcpus, Execution.EngineChoice engine)
    {
        var created = Stopwatch.GetTimestamp();
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = vcpus, MemoryMiB = 256, Image = image, Engine = engine });
        machine.Start();
        if (!await machine.Serial.WaitForTextAsync("V", TimeSpan.FromSeconds(30)).ConfigureAwait(false))
            throw new InvalidOperationException($"guest printed nothing within 30 s ({machine.State})");
        var first = machine.Serial.FirstByteTimestamp;
        machine.Stop();
        return Stopwatch.GetElapsedTime(created, first).TotalMilliseconds;
    }
}
