using System.Diagnostics;
using System.Globalization;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// The served rows of `vdi-vmm bench ft`: the desktop as the product runs it — sandboxed `vdi-vmm serve` hosts with the
/// broker's limits — once as a single host and once as a fault-tolerant pair (<see cref="FaultTolerantDesktop"/>: a
/// recording primary host, a replaying secondary host, the journal relayed through this process), measured where the
/// broker sees frames: key-to-paint and repaint, interleaved, with and without fault tolerance; the journal relayed
/// (bytes a second, idle and typing); a checkpoint; and failover — the primary's host killed (SIGKILL) while typing →
/// the next frame announced to the viewers, and → protected again.
/// </summary>
internal static class BenchFtServed
{
    public static async Task RunAsync(int runs, int failovers, EngineChoice engine, TextWriter stdout)
    {
        var work = Directory.CreateTempSubdirectory("vdi-bench-ft-");
        var config = new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 512, Engine = engine, Display = new DisplayProperties(1920, 1080, 96) };
        var hosts = 0;
        async Task<RemoteDesktop> LaunchAsync(FaultToleranceRole role, EngineChoice _, CancellationToken cancellationToken)
        {
            Func<RemoteDesktopOptions, RemoteDesktopOptions> limits = o => o with
            {
                MemoryLimitMiB = 512 + 1024, CpuLimitPercent = 150, FaultTolerance = role, SocketName = $"host-{Interlocked.Increment(ref hosts)}.sock",
            };
            var host = role == FaultToleranceRole.Secondary
                ? await DesktopMachines.CreateIncomingAsync(config, work.FullName, configure: limits, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await DesktopMachines.CreateAsync(config, work.FullName, configure: limits, cancellationToken: cancellationToken).ConfigureAwait(false);
            return (RemoteDesktop)host;
        }

        try
        {
            await using var single = await LaunchAsync(FaultToleranceRole.None, engine, CancellationToken.None).ConfigureAwait(false);
            await using var pair = await FaultTolerantDesktop.CreateAsync(LaunchAsync).ConfigureAwait(false);
            await single.StartAsync().ConfigureAwait(false);
            await pair.StartAsync().ConfigureAwait(false);
            await UntilAsync(() => pair.Status.State == "protected" && single.Mode is not null, 60, "the desktops booted and the pair protected").ConfigureAwait(false);
            await Task.Delay(1000).ConfigureAwait(false);
            var (freeFrames, ftFrames) = (new BenchFt.FrameWatch(), new BenchFt.FrameWatch());
            single.Flushed += f => freeFrames.Frame(f.Damage.Y, f.Damage.Width, f.Damage.Height);
            pair.Flushed += f => ftFrames.Frame(f.Damage.Y, f.Damage.Width, f.Damage.Height);

            var bar = DesktopGuest.TopBarUnits * DesktopGuest.TopBar(1920, 1080, 96).Unit;
            var resyncsBefore = pair.Resyncs;
            var (keyFree, keyFt, paintFree, paintFt) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
            for (var i = 0; i < runs; i++)
            {
                var code = (ushort)(Devices.Input.Evdev.KeyA + (i % 9));
                keyFree.Add(await BenchFt.KeyAsync(k => Send(single, k), freeFrames, code, bar).ConfigureAwait(false));
                keyFt.Add(await BenchFt.KeyAsync(k => Send(pair, k), ftFrames, code, bar).ConfigureAwait(false));
                var mode = i % 2 == 0 ? new DisplayProperties(1280, 720, 96) : new DisplayProperties(1920, 1080, 96);
                paintFree.Add(await BenchFt.RepaintAsync(d => _ = single.RequestDisplayAsync(((DisplayInput)d).Properties), freeFrames, mode).ConfigureAwait(false));
                paintFt.Add(await BenchFt.RepaintAsync(d => _ = pair.RequestDisplayAsync(((DisplayInput)d).Properties), ftFrames, mode).ConfigureAwait(false));
            }
            await stdout.WriteLineAsync($"served (sandboxed host processes on {(engine == EngineChoice.Kvm ? "KVM" : "the software engine")}; frames where the broker sees them):").ConfigureAwait(false);
            await stdout.WriteLineAsync("  " + BenchFt.Overhead("key-to-paint", keyFree, keyFt)).ConfigureAwait(false);
            await stdout.WriteLineAsync("  " + BenchFt.Overhead("repaint", paintFree, paintFt)).ConfigureAwait(false);
            await stdout.WriteLineAsync($"  resyncs while measured: {pair.Resyncs - resyncsBefore}{(pair.Resyncs > resyncsBefore ? $" (the last: {pair.Status.LastEvent})" : "")}").ConfigureAwait(false);

            var relayed = 0L;
            pair.Primary.JournalReceived += (_, entries, outputs, _) => Interlocked.Add(ref relayed, HostProtocol.HeaderSize + 12 + (entries.Count * JournalEntry.Bytes) + (outputs.Count * JournalMessage.OutputBytes));
            var idle = await RelayedAsync(pair, () => Interlocked.Read(ref relayed), typing: false).ConfigureAwait(false);
            var typing = await RelayedAsync(pair, () => Interlocked.Read(ref relayed), typing: true).ConfigureAwait(false);
            await stdout.WriteLineAsync(Invariant($"  journal relayed primary → broker: idle {idle / 1024.0:F1} KiB/s, typing 30 keys/s {typing / 1024.0:F1} KiB/s (frames included)")).ConfigureAwait(false);

            var checkpoints = new List<Migration.MigrationOutcome>();
            for (var i = 0; i < 3; i++)
            {
                if (await pair.ResynchroniseAsync("bench").ConfigureAwait(false) && pair.LastCheckpoint is { } c)
                    checkpoints.Add(c);
            }
            if (checkpoints.Count > 0)
            {
                await stdout.WriteLineAsync(Invariant(
                    $"  checkpoint (a new secondary host): {Statistics.Median([.. checkpoints.Select(c => c.BytesSent / 1048576.0)]):F1} MiB sent, state {Statistics.Median([.. checkpoints.Select(c => c.StateBytes / 1024.0)]):F0} KiB, the primary paused {Statistics.Median([.. checkpoints.Select(c => c.Downtime.TotalMilliseconds)]):F1} ms, total {Statistics.Median([.. checkpoints.Select(c => c.Total.TotalMilliseconds)]):F0} ms (median of {checkpoints.Count})")).ConfigureAwait(false);
            }

            var (next, again) = (new List<double>(), new List<double>());
            for (var i = 0; i < failovers; i++)
            {
                var (n, a) = await FailoverAsync(pair, ftFrames, bar).ConfigureAwait(false);
                next.Add(n);
                again.Add(a);
            }
            var failover = Statistics.Median(next);
            await stdout.WriteLineAsync(Invariant($"  failover: the primary's host killed while typing → next frame to the viewers {failover:F1} ms (worst {next.Max():F1}; goal ≤ 200 ms: {(failover <= 200 ? "met" : "missed")}); → protected again {Statistics.Median(again):F0} ms (median of {failovers})")).ConfigureAwait(false);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static void Send(IDesktopMachine desktop, GuestInput input)
    {
        var key = (KeyInput)input;
        desktop.SendKey(key.Code, key.Action == Devices.Input.KeyAction.Press);
    }

    private static async Task<double> RelayedAsync(FaultTolerantDesktop pair, Func<long> relayed, bool typing)
    {
        var before = relayed();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            if (typing)
            {
                pair.SendKey(Devices.Input.Evdev.KeyA, true);
                pair.SendKey(Devices.Input.Evdev.KeyA, false);
            }
            await Task.Delay(33).ConfigureAwait(false);
        }
        return (relayed() - before) / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Typing every 33 ms, the primary's host is killed: → the next frame below the top bar, → protected again.</summary>
    private static async Task<(double Next, double Protected)> FailoverAsync(FaultTolerantDesktop pair, BenchFt.FrameWatch frames, int bar)
    {
        using var stop = new CancellationTokenSource();
        var typist = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                pair.SendKey(Devices.Input.Evdev.KeyA, true);
                pair.SendKey(Devices.Input.Evdev.KeyA, false);
                await Task.Delay(33).ConfigureAwait(false);
            }
        });
        try
        {
            await Task.Delay(300).ConfigureAwait(false);
            var failovers = pair.Failovers;
            var next = frames.Next(f => f.Y >= bar);
            var started = Stopwatch.GetTimestamp();
            Process.GetProcessById(pair.Primary.ProcessId!.Value).Kill();
            var ms = await BenchFt.MillisecondsAsync(next, started, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await UntilAsync(() => pair.Failovers > failovers && pair.Status.State == "protected", 60, "protection after a failover").ConfigureAwait(false);
            return (ms, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await typist.ConfigureAwait(false);
        }
    }

    private static async Task UntilAsync(Func<bool> condition, int seconds, string what)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !condition(); await Task.Delay(10).ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no {what} within {seconds} s");
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
