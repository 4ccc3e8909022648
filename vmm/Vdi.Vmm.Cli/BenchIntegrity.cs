using System.Diagnostics;
using System.Globalization;
using Vdi.Guest.Bench;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench integrity`: what guest integrity costs, in one run. (1) One write to a protected page, classified
/// and refused, on each engine: (t(2N) − t(N)) / N with integrity enforced, less the same with it off (the stores then
/// land untraced). (2) A privileged-mode enter + leave with 1 and 4 vCPUs (the others parked each time). (3) A
/// fault-safe read of one page by guest-virtual address, next to a plain copy of the same page. (4) The desktop's
/// 1920x1080 repaint with integrity off and enforced (the desktop's driver protecting its kernel), interleaved.
/// </summary>
internal static class BenchIntegrity
{
    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 5, 1, 100);
        var softwareWrites = options.Int("software-writes", 100_000, 1_000, 100_000_000);
        var kvmWrites = options.Int("kvm-writes", 1_000, 100, 10_000_000);
        var cycles = options.Int("cycles", 2_000, 10, 10_000_000);
        var kvmCycles = options.Int("kvm-cycles", 1_000, 10, 10_000_000);
        var repaints = options.Int("repaints", 20, 1, 1000);
        options.EnsureConsumed();
        var kvm = KvmAvailable();

        await stdout.WriteLineAsync($"one write to a protected page, classified and refused: median of {runs} runs of (t(2N) - t(N)) / N, less the same with integrity off").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  software  {Micro(ProtectedWriteCost(EngineChoice.Software, softwareWrites, runs))} per write   (N = {softwareWrites})").ConfigureAwait(false);
        await stdout.WriteLineAsync($"  KVM       {(kvm is null ? $"{Micro(ProtectedWriteCost(EngineChoice.Kvm, kvmWrites, runs))} per write   (N = {kvmWrites}; nested, emulating KVM here: not hardware figures)" : $"not measured: {kvm}")}").ConfigureAwait(false);

        await stdout.WriteLineAsync($"privileged mode, enter + leave (region and window mapped and unmapped, the others parked): median of {runs} runs of (t(2M) - t(M)) / M").ConfigureAwait(false);
        foreach (var vcpus in new[] { 1, 4 })
        {
            var software = Micro(CycleCost(EngineChoice.Software, vcpus, cycles, runs));
            var onKvm = kvm is null ? Micro(CycleCost(EngineChoice.Kvm, vcpus, kvmCycles, runs)) : "not measured";
            await stdout.WriteLineAsync($"  {vcpus} vCPU{(vcpus > 1 ? "s" : " ")}    software {software}   KVM {onKvm}").ConfigureAwait(false);
        }

        var (safe, plain) = SafeRead(runs);
        await stdout.WriteLineAsync($"fault-safe read of one 4 KiB page by guest-virtual address (page walk from CR3 + copy): {Micro(safe)}; plain copy of the page: {Micro(plain)} (median of {runs} runs of 100,000)").ConfigureAwait(false);

        var (off, enforce, ratios, protectedPages) = await RepaintsAsync(repaints, runs).ConfigureAwait(false);
        var cost = (Statistics.Median(enforce) / Statistics.Median(off)) - 1;
        await stdout.WriteLineAsync($"desktop 1920x1080 repaint (request → full flush), software engine, {runs} rounds of {repaints} each, the order alternating:").ConfigureAwait(false);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  integrity off      median {Statistics.Median(off),6:F2} ms  p95 {Statistics.Percentile(off, 0.95),6:F2} ms")).ConfigureAwait(false);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  integrity enforce  median {Statistics.Median(enforce),6:F2} ms  p95 {Statistics.Percentile(enforce, 0.95),6:F2} ms  ({protectedPages} pages protected)")).ConfigureAwait(false);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"  enforce costs {cost * 100:+0.0;-0.0}% on the median of all repaints (goal: at most +5%); round by round {string.Join(", ", ratios.Select(r => $"{(r - 1) * 100:+0;-0}%"))}: single rounds are noise on a shared host")).ConfigureAwait(false);
        return 0;
    }

    private static string? KvmAvailable()
    {
        try
        {
            KvmSystem.Open().Dispose();
            return null;
        }
        catch (KvmException e)
        {
            return e.Message;
        }
    }

    private static double ProtectedWriteCost(EngineChoice engine, int writes, int runs)
    {
        var samples = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var enforced = Seconds(engine, 1, writes * 2, 0, IntegrityLevel.Enforce, writes * 2) - Seconds(engine, 1, writes, 0, IntegrityLevel.Enforce, writes);
            var off = Seconds(engine, 1, writes * 2, 0, IntegrityLevel.Off, 0) - Seconds(engine, 1, writes, 0, IntegrityLevel.Off, 0);
            samples.Add((enforced - off) / writes);
        }
        return Statistics.Median(samples);
    }

    private static double CycleCost(EngineChoice engine, int vcpus, int cycles, int runs)
    {
        var samples = new List<double>();
        for (var run = 0; run < runs; run++)
            samples.Add((Seconds(engine, vcpus, 0, cycles * 2, IntegrityLevel.Enforce, 0) - Seconds(engine, vcpus, 0, cycles, IntegrityLevel.Enforce, 0)) / cycles);
        return Statistics.Median(samples);
    }

    /// <summary>Seconds to power-off of the bench guest; checks the alerts it raised (one per refused write, the newest kept) and its privileged-mode entries.</summary>
    private static double Seconds(EngineChoice engine, int vcpus, int writes, int cycles, IntegrityLevel level, int alerts) =>
        PowerOffTimer.Seconds(
            new MachineConfig { Vcpus = vcpus, MemoryMiB = IntegrityBenchGuest.MemoryMiB, Image = IntegrityBenchGuest.Build(writes, cycles), Engine = engine, ExitStormSwitching = false, Integrity = level },
            check: machine =>
            {
                if (machine.Integrity.Alerts.Count != Math.Min(alerts, IntegrityMonitor.AlertCapacity) || machine.Privileged.Entries != cycles)
                    throw new InvalidOperationException($"the integrity bench guest raised {machine.Integrity.Alerts.Count} alerts and entered privileged mode {machine.Privileged.Entries} times; expected {alerts} and {cycles}");
            });

    /// <summary>Seconds per fault-safe read of one page and per plain copy of it, medians of runs of 100,000.</summary>
    private static (double Safe, double Plain) SafeRead(int runs)
    {
        const int Reads = 100_000;
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = IntegrityBenchGuest.MemoryMiB, Image = IntegrityBenchGuest.Build(0, 0), Engine = EngineChoice.Software });
        machine.Start();
        machine.WaitForExitAsync(TimeSpan.FromMinutes(1)).GetAwaiter().GetResult();
        var page = new byte[4096];
        var safe = new List<double>();
        var plain = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < Reads; i++)
            {
                if (!machine.ReadVirtual(IntegrityBenchGuest.Cr3, IntegrityBenchGuest.Protected, page).Succeeded)
                    throw new InvalidOperationException("the safe read failed");
            }
            safe.Add(Stopwatch.GetElapsedTime(started).TotalSeconds / Reads);
            started = Stopwatch.GetTimestamp();
            for (var i = 0; i < Reads; i++)
                machine.Memory.TryRead(IntegrityBenchGuest.Protected, page);
            plain.Add(Stopwatch.GetElapsedTime(started).TotalSeconds / Reads);
        }
        return (Statistics.Median(safe), Statistics.Median(plain));
    }

    private static async Task<(List<double> Off, List<double> Enforce, List<double> Ratios, int ProtectedPages)> RepaintsAsync(int repaints, int rounds)
    {
        using var off = Desktop(IntegrityLevel.Off);
        using var enforce = Desktop(IntegrityLevel.Enforce);
        var timeout = TimeSpan.FromSeconds(10);
        await BenchDisplay.RepaintsAsync(off, 1920, 1080, 2, timeout).ConfigureAwait(false); // both booted and warm
        await BenchDisplay.RepaintsAsync(enforce, 1920, 1080, 2, timeout).ConfigureAwait(false);
        if (enforce.Integrity.Driver is null)
            throw new InvalidOperationException("the desktop's integrity driver did not register");
        List<double> offTimes = [], enforceTimes = [], ratios = [];
        for (var round = 0; round < rounds; round++)
        {
            // Each round measures both, in alternating order, so neither always runs first.
            var first = round % 2 == 0 ? off : enforce;
            var a = await BenchDisplay.RepaintsAsync(first, 1920, 1080, repaints, timeout).ConfigureAwait(false);
            var b = await BenchDisplay.RepaintsAsync(first == off ? enforce : off, 1920, 1080, repaints, timeout).ConfigureAwait(false);
            var (o, e) = first == off ? (a, b) : (b, a);
            offTimes.AddRange(o);
            enforceTimes.AddRange(e);
            ratios.Add(Statistics.Median(e) / Statistics.Median(o));
        }
        var pages = enforce.Integrity.Protected.Sum(r => (int)r.Pages);
        off.Stop();
        enforce.Stop();
        return (offTimes, enforceTimes, ratios, pages);
    }

    private static Vmm.Machine.Machine Desktop(IntegrityLevel level)
    {
        var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = 512, Image = DesktopGuest.Build(), Engine = EngineChoice.Software, Integrity = level });
        machine.Start();
        return machine;
    }

    private static string Micro(double seconds) => seconds >= 1e-5
        ? string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e6,8:F1} µs")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e9,8:F0} ns");
}
