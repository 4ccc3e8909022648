using System.Diagnostics;
using System.Globalization;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Cli;

/// <summary>
/// The served-desktop rows of `vdi-vmm bench migrate`: the built-in desktop in sandboxed `vdi-vmm serve` host processes
/// with the broker's limits (its RAM + 1 GiB, 150% of a core), as the product runs it, migrated over loopback TCP while a
/// key is typed every 30 ms — first from the host that booted it to a new `serve --incoming` host, then on from that
/// one to another (a host that received a desktop sends it on). Downtime as the source reports it, and the longest gap
/// between two frames flushed to this process (the broker's side) from the migration's start to 500 ms after its end.
/// </summary>
internal static class BenchMigrateServed
{
    private static readonly TimeSpan s_keyInterval = TimeSpan.FromMilliseconds(30);

    public static async Task RunAsync(EngineChoice engine, int runs, MigrationOptions migration, double goalMs, TextWriter stdout)
    {
        var first = new List<(MigrationOutcome Outcome, double Gap)>();
        var again = new List<(MigrationOutcome Outcome, double Gap)>();
        await RunOnceAsync(engine, migration).ConfigureAwait(false); // the host program's files cached, not counted
        for (var i = 0; i < runs; i++)
        {
            var (a, b) = await RunOnceAsync(engine, migration).ConfigureAwait(false);
            first.Add(a);
            again.Add(b);
        }
        await stdout.WriteLineAsync(Row("served, booted", first)).ConfigureAwait(false);
        await stdout.WriteLineAsync(Row("served, received", again)).ConfigureAwait(false);
        var met = Statistics.Median([.. first.Concat(again).Select(s => s.Outcome.Downtime.TotalMilliseconds)]) <= goalMs;
        await stdout.WriteLineAsync($"                 (sandboxed host processes, typing; frame gap as flushed to the broker) downtime goal {goalMs:F0} ms: {(met ? "met" : "missed")}").ConfigureAwait(false);
    }

    private static async Task<((MigrationOutcome, double) First, (MigrationOutcome, double) Again)> RunOnceAsync(EngineChoice engine, MigrationOptions migration)
    {
        var work = Directory.CreateTempSubdirectory("vdi-bench-migrate-");
        var config = new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 512, Engine = engine };
        var hosts = new List<IDesktopMachine>();
        try
        {
            async Task<IDesktopMachine> HostAsync(string name, bool incoming)
            {
                var folder = Directory.CreateDirectory(Path.Combine(work.FullName, name)).FullName;
                Func<RemoteDesktopOptions, RemoteDesktopOptions> limits = o => o with { MemoryLimitMiB = 512 + 1024, CpuLimitPercent = 150 };
                var host = incoming
                    ? await DesktopMachines.CreateIncomingAsync(config, folder, configure: limits).ConfigureAwait(false)
                    : await DesktopMachines.CreateAsync(config, folder, configure: limits).ConfigureAwait(false);
                hosts.Add(host);
                return host;
            }

            var source = await HostAsync("a", incoming: false);
            await source.StartAsync().ConfigureAwait(false);
            for (var deadline = DateTime.UtcNow.AddSeconds(60); source.Mode is null; await Task.Delay(20).ConfigureAwait(false))
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException("the served desktop showed nothing within 60 s");
            }
            await Task.Delay(1500).ConfigureAwait(false); // booted and drawn
            var firstSample = await MigrateTypingAsync(source, await HostAsync("b", incoming: true).ConfigureAwait(false), migration).ConfigureAwait(false);
            var againSample = await MigrateTypingAsync(hosts[1], await HostAsync("c", incoming: true).ConfigureAwait(false), migration).ConfigureAwait(false);
            return (firstSample, againSample);
        }
        finally
        {
            foreach (var host in hosts)
                await host.DisposeAsync().ConfigureAwait(false);
            work.Delete(recursive: true);
        }
    }

    /// <summary>One migration while a key is typed into whichever host runs the desktop; the outcome and the longest flush gap.</summary>
    private static async Task<(MigrationOutcome, double)> MigrateTypingAsync(IDesktopMachine source, IDesktopMachine destination, MigrationOptions migration)
    {
        var flushes = new List<long>();
        void OnFlush(Devices.Gpu.ScanoutFlush _)
        {
            lock (flushes)
                flushes.Add(Stopwatch.GetTimestamp());
        }
        source.Flushed += OnFlush;
        destination.Flushed += OnFlush;
        var current = source;
        using var stop = new CancellationTokenSource();
        var typist = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                _ = UsKeyboardLayout.TryMap(i % 40 == 39 ? '\n' : (char)('a' + (i % 26)), out var code, out _);
                var target = Volatile.Read(ref current);
                target.SendKey(code, true);
                target.SendKey(code, false);
                await Task.Delay(s_keyInterval).ConfigureAwait(false);
            }
        });
        try
        {
            await Task.Delay(500).ConfigureAwait(false);
            var token = MigrateListenMessage.NewToken();
            var incoming = await destination.AcceptMigrationAsync(token).ConfigureAwait(false);
            var started = Stopwatch.GetTimestamp();
            var outcome = await source.MigrateToAsync(incoming.Endpoint, token, migration, null).ConfigureAwait(false);
            if (!outcome.Succeeded)
                throw new InvalidOperationException($"the benchmark's migration failed: {outcome.Error}");
            var received = await incoming.Received.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            if (!received.Succeeded)
                throw new InvalidOperationException($"the destination did not take the desktop: {received.Error}");
            Volatile.Write(ref current, destination); // keys go where the desktop now runs, as the broker sends them
            await Task.Delay(500).ConfigureAwait(false);
            var ended = Stopwatch.GetTimestamp();
            long[] times;
            lock (flushes)
                times = [started, .. flushes.Where(t => t > started && t < ended).Order(), ended];
            var gap = times.Zip(times.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b).TotalMilliseconds).Max();
            return (outcome, gap);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await typist.ConfigureAwait(false);
            source.Flushed -= OnFlush;
            destination.Flushed -= OnFlush;
        }
    }

    private static string Row(string name, List<(MigrationOutcome Outcome, double Gap)> s)
    {
        double Median(Func<(MigrationOutcome Outcome, double Gap), double> value) => Statistics.Median([.. s.Select(value)]);
        return string.Create(CultureInfo.InvariantCulture,
            $"  {name,-17} {Median(x => x.Outcome.Total.TotalMilliseconds),5:F0} ms {Median(x => x.Outcome.Downtime.TotalMilliseconds),8:F1} ms {Median(x => x.Outcome.Rounds),6:F0} {Median(x => x.Outcome.BytesSent / 1048576.0),9:F1}  {Median(x => x.Outcome.PagesSent),7:F0} ({Median(x => x.Outcome.ZeroPages),6:F0}) {Median(x => x.Outcome.FinalPages),8:F0} pg {Median(x => x.Outcome.StateBytes / 1024.0),9:F0}  {Median(x => x.Gap):F1} ms (worst {s.Max(x => x.Gap):F1}); downtime worst {s.Max(x => x.Outcome.Downtime.TotalMilliseconds):F1} ms");
    }
}
