using System.Diagnostics;
using System.Globalization;
using Vdi.Guest.Bench;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench migrate`: live migration of a 512 MiB machine between two machines of this process over loopback
/// TCP, in one run — the desktop idle, the desktop while a key is typed every 30 ms, and the A-B guest (every page of
/// 256 MiB incremented over and over, the DMA exerciser writing a record every 16 pages) — each several times after one that is not counted (it warms the code up): total
/// time, downtime (the source's pause to the destination's word that it runs), rounds, bytes sent, and for the typed
/// desktop the longest gap between two flushed frames across the switch. Then a snapshot of the idle desktop restored
/// into a fresh machine. Then the desktop as the product serves it (<see cref="BenchMigrateServed"/>; `--served-only`:
/// just those rows). Medians over the runs; the goal for downtime is 50 ms idle and while typing.
/// </summary>
internal static class BenchMigrate
{
    private const int MemoryMiB = 512;
    private static readonly TimeSpan s_downtimeGoal = TimeSpan.FromMilliseconds(50);

    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 5, 1, 100);
        var engine = options.Engine(EngineChoice.Auto);
        var downtime = options.Int("downtime-ms", 50, 1, 10_000);
        var servedOnly = options.Flag("served-only");
        options.EnsureConsumed();
        var migration = new MigrationOptions { DowntimeTarget = TimeSpan.FromMilliseconds(downtime) };
        var desktop = new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = MemoryMiB, Engine = engine, Display = new(1280, 720, 96) };
        var ab = new MachineConfig { Image = AbGuest.Build(64UL << 20, 256UL << 20, 16UL << 20, 2048, dmaEvery: 16), MemoryMiB = MemoryMiB, Engine = engine, Vcpus = 2, ExitStormSwitching = false };
        using (var probe = MachineBuilder.Build(desktop with { MemoryMiB = 64 }))
            await stdout.WriteLineAsync($"live migration of {MemoryMiB} MiB over loopback TCP on {probe.Engine.Subject}, downtime target {downtime} ms, median of {runs} runs each").ConfigureAwait(false);
        await stdout.WriteLineAsync("                 total      downtime   rounds  sent MiB  pages (zero)       last round  state KiB  longest frame gap").ConfigureAwait(false);
        foreach (var (name, config, typing) in new[] { ("desktop, idle", desktop, false), ("desktop, typing", desktop, true), ("A-B + DMA", ab, false) })
        {
            if (servedOnly)
                break;
            var samples = new List<Sample>();
            await MigrateOnceAsync(config, typing, migration).ConfigureAwait(false); // warms the code up, not counted
            for (var i = 0; i < runs; i++)
                samples.Add(await MigrateOnceAsync(config, typing, migration).ConfigureAwait(false));
            await stdout.WriteLineAsync(Row(name, samples)).ConfigureAwait(false);
            if (name != "A-B + DMA")
            {
                var met = Median(samples, s => s.Outcome.Downtime.TotalMilliseconds) <= s_downtimeGoal.TotalMilliseconds;
                await stdout.WriteLineAsync($"                 downtime goal {s_downtimeGoal.TotalMilliseconds:F0} ms: {(met ? "met" : "missed")}").ConfigureAwait(false);
            }
        }
        await BenchMigrateServed.RunAsync(engine, runs, migration, s_downtimeGoal.TotalMilliseconds, stdout).ConfigureAwait(false);
        if (!servedOnly)
            await RestoreRowAsync(desktop, runs, stdout).ConfigureAwait(false);
        return 0;
    }

    private sealed record Sample(MigrationOutcome Outcome, double? FrameGapMs);

    private static async Task<Sample> MigrateOnceAsync(MachineConfig config, bool typing, MigrationOptions options)
    {
        using var source = MachineBuilder.Build(config);
        using var destination = MachineBuilder.Build(config);
        var flushes = new List<long>();
        void OnFlush(ScanoutFlush _)
        {
            lock (flushes)
                flushes.Add(Stopwatch.GetTimestamp());
        }
        source.Devices.Gpu.Flushed += OnFlush;
        destination.Devices.Gpu.Flushed += OnFlush;
        source.Start();
        await WaitIdleAsync(source, config).ConfigureAwait(false);

        using var stop = new CancellationTokenSource();
        var current = source;
        var typist = typing ? Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                UsKeyboardLayout.Type(Volatile.Read(ref current).Devices.Keyboard, "a");
                await Task.Delay(30).ConfigureAwait(false);
            }
        }) : Task.CompletedTask;
        if (typing)
            await Task.Delay(500).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();

        using (var pair = await LoopbackPair.OpenAsync().ConfigureAwait(false))
        {
            var receive = MigrationTarget.ReceiveAsync(destination, pair.Destination, m =>
            {
                m.Start();
                Volatile.Write(ref current, m); // keys go where the desktop now runs, as the broker sends them
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(30));
            var outcome = await MigrationSource.SendAsync(source, pair.Source, options).ConfigureAwait(false);
            if (!outcome.Succeeded)
                throw new InvalidOperationException($"the benchmark's migration failed: {outcome.Error}");
            await receive.ConfigureAwait(false);
            if (typing)
                await Task.Delay(500).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await typist.ConfigureAwait(false);
            source.Stop();
            destination.Stop();
            double? gap = null;
            if (typing)
            {
                long[] times;
                lock (flushes)
                    times = [.. flushes.Where(t => t >= started).Order()];
                gap = times.Zip(times.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds).DefaultIfEmpty(double.NaN).Max();
            }
            return new Sample(outcome, gap);
        }
    }

    private static async Task RestoreRowAsync(MachineConfig config, int runs, TextWriter stdout)
    {
        byte[] file;
        using (var machine = MachineBuilder.Build(config))
        {
            machine.Start();
            await WaitIdleAsync(machine, config).ConfigureAwait(false);
            if (!machine.PauseAll(TimeSpan.FromSeconds(10)))
                throw new InvalidOperationException("the vCPUs did not park for the snapshot");
            using var stream = new MemoryStream();
            await MachineSnapshot.SaveAsync(machine, stream).ConfigureAwait(false);
            file = stream.ToArray();
            machine.Stop();
        }
        var build = new List<double>();
        var restore = new List<double>();
        for (var i = 0; i < runs + 1; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            using var machine = MachineBuilder.Build(config);
            var t1 = Stopwatch.GetTimestamp();
            var stream = new MemoryStream(file, writable: false);
            await MigrationTarget.RestoreSnapshotAsync(machine, await MigrationTarget.ReadIdentityAsync(stream).ConfigureAwait(false), stream).ConfigureAwait(false);
            machine.Start();
            var t2 = Stopwatch.GetTimestamp();
            machine.Stop();
            if (i == 0)
                continue; // the first one warms the code up
            build.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            restore.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds);
        }
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"snapshot restore of the idle desktop ({file.Length / 1048576.0:F1} MiB file in memory): memory and state into a built machine and started {Statistics.Median(restore):F1} ms, the machine built before it {Statistics.Median(build):F1} ms (median of {runs})")).ConfigureAwait(false);
    }

    private static async Task WaitIdleAsync(Vmm.Machine.Machine machine, MachineConfig config)
    {
        if (config.Image.Name == DesktopGuest.Name)
            await DesktopRun.WaitForIdleAsync(machine).ConfigureAwait(false);
        await Task.Delay(300).ConfigureAwait(false); // settled: the A-B guest has dirtied its whole range once
    }

    private static double Median(List<Sample> samples, Func<Sample, double> value) => Statistics.Median([.. samples.Select(value)]);

    private static string Row(string name, List<Sample> s) => string.Create(CultureInfo.InvariantCulture,
        $"  {name,-15} {Median(s, x => x.Outcome.Total.TotalMilliseconds),7:F0} ms {Median(s, x => x.Outcome.Downtime.TotalMilliseconds),8:F1} ms {Median(s, x => x.Outcome.Rounds),6:F0} {Median(s, x => x.Outcome.BytesSent / 1048576.0),9:F1}  {Median(s, x => x.Outcome.PagesSent),7:F0} ({Median(s, x => x.Outcome.ZeroPages),6:F0}) {Median(s, x => x.Outcome.FinalPages),8:F0} pg {Median(s, x => x.Outcome.StateBytes / 1024.0),9:F0}  {(s[0].FrameGapMs is null ? "—" : $"{Median(s, x => x.FrameGapMs ?? double.NaN):F1} ms (worst {s.Max(x => x.FrameGapMs ?? 0):F1})")}");
}
