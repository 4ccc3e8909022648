using System.Diagnostics;
using System.Globalization;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench ft`: quasi-lockstep fault tolerance in this process (<see cref="Lockstep"/>; `--engine software`,
/// the default: exact, or `kvm`: quasi at exit counts),
/// against the same desktop running free, in one run — key-to-paint (a key → the first frame drawn below the top bar:
/// flushed when free, released by the output comparison under fault tolerance) and repaint (a display request → its
/// whole new frame), medians of interleaved samples; the journal's bandwidth idle and while typing; a resync's
/// checkpoint (bytes, state, the primary's pause, total); and failover (the primary stopped while typing → the next
/// frame released by the promoted secondary, and → protected again). Then the served rows (<see cref="BenchFtServed"/>;
/// `--served-only`: those alone). Goals: ≤ 10% overhead, failover ≤ 200 ms.
/// </summary>
internal static class BenchFt
{
    private static readonly DisplayProperties s_large = new(1920, 1080, 96), s_small = new(1280, 720, 96);

    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 20, 2, 1000);
        var failovers = options.Int("failovers", 5, 1, 100);
        var servedOnly = options.Flag("served-only");
        var engine = options.Engine(EngineChoice.Software);
        options.EnsureConsumed();
        if (engine == EngineChoice.Auto)
            throw new ArgumentException("--engine must be software or kvm: bench ft compares the pair with a free desktop on one engine");
        if (servedOnly)
        {
            await BenchFtServed.RunAsync(runs, failovers, engine, stdout).ConfigureAwait(false);
            return 0;
        }
        var config = new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 256, Engine = engine, Display = s_large };
        await stdout.WriteLineAsync($"fault tolerance on {(engine == EngineChoice.Kvm ? "KVM (quasi-lockstep at exit counts)" : "the software engine")}, {config.MemoryMiB} MiB desktop at 1920x1080; medians of {runs} interleaved samples").ConfigureAwait(false);

        using var free = MachineBuilder.Build(config);
        var freeFrames = new FrameWatch();
        free.Devices.Gpu.Flushed += f => freeFrames.Frame(f.Damage.Y, f.Damage.Width, f.Damage.Height);
        free.Start();
        await DesktopRun.WaitForIdleAsync(free).ConfigureAwait(false);

        await using var lockstep = new Lockstep(() => MachineBuilder.Build(config));
        var released = new FrameWatch();
        lockstep.Released += o =>
        {
            if (o.Kind == OutputKind.Frame)
                released.Frame((ushort)(o.A >> 16), (ushort)(o.A >> 32), (ushort)(o.A >> 48));
        };
        lockstep.Start();
        await DesktopRun.WaitForIdleAsync(lockstep.Primary).ConfigureAwait(false);
        await Task.Delay(500).ConfigureAwait(false);

        var bar = DesktopGuest.TopBarUnits * DesktopGuest.TopBar(s_large.Width, s_large.Height, 96).Unit;
        var (keyFree, keyFt, paintFree, paintFt) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (var i = 0; i < runs; i++)
        {
            var code = (ushort)(Evdev.KeyA + (i % 9));
            keyFree.Add(await KeyAsync(free.Submit, freeFrames, code, bar).ConfigureAwait(false));
            keyFt.Add(await KeyAsync(lockstep.Submit, released, code, bar).ConfigureAwait(false));
            var mode = i % 2 == 0 ? s_small : s_large;
            paintFree.Add(await RepaintAsync(free.Submit, freeFrames, mode).ConfigureAwait(false));
            paintFt.Add(await RepaintAsync(lockstep.Submit, released, mode).ConfigureAwait(false));
        }
        await stdout.WriteLineAsync(Overhead("key-to-paint (key → first frame below the top bar)", keyFree, keyFt)).ConfigureAwait(false);
        await stdout.WriteLineAsync(Overhead("repaint (display request → its whole frame)", paintFree, paintFt)).ConfigureAwait(false);

        var idle = await BandwidthAsync(lockstep, typing: false).ConfigureAwait(false);
        var typing = await BandwidthAsync(lockstep, typing: true).ConfigureAwait(false);
        await stdout.WriteLineAsync(Invariant($"journal bandwidth: idle {idle / 1024.0:F1} KiB/s, typing 30 keys/s {typing / 1024.0:F1} KiB/s ({JournalEntry.Bytes} B an entry; VMware FT: 1.4–3 Mbit/s of logging)")).ConfigureAwait(false);

        var checkpoints = new List<Migration.MigrationOutcome>();
        for (var i = 0; i < 3; i++)
        {
            await lockstep.ResynchroniseAsync("bench").ConfigureAwait(false);
            checkpoints.Add(lockstep.LastCheckpoint!);
        }
        await stdout.WriteLineAsync(Invariant(
            $"checkpoint (a resync): {Statistics.Median([.. checkpoints.Select(c => c.BytesSent / 1048576.0)]):F1} MiB sent, state {Statistics.Median([.. checkpoints.Select(c => c.StateBytes / 1024.0)]):F0} KiB, the primary paused {Statistics.Median([.. checkpoints.Select(c => c.Downtime.TotalMilliseconds)]):F1} ms, total {Statistics.Median([.. checkpoints.Select(c => c.Total.TotalMilliseconds)]):F0} ms (median of 3)")).ConfigureAwait(false);

        var (failover, protectedAgain) = await FailoverAsync(lockstep, released, bar).ConfigureAwait(false);
        await stdout.WriteLineAsync(Invariant($"failover: primary stopped while typing → next frame released {failover:F1} ms (goal ≤ 200 ms); → protected again (a new secondary) {protectedAgain:F0} ms")).ConfigureAwait(false);
        free.Stop();
        await BenchFtServed.RunAsync(runs, failovers, engine, stdout).ConfigureAwait(false);
        return 0;
    }

    /// <summary>A key pressed and released → the first frame at or below <paramref name="bar"/>; NaN after 5 s.</summary>
    internal static async Task<double> KeyAsync(Action<GuestInput> submit, FrameWatch frames, ushort code, int bar)
    {
        await Task.Delay(60).ConfigureAwait(false);
        var next = frames.Next(f => f.Y >= bar);
        var started = Stopwatch.GetTimestamp();
        submit(new KeyInput(code, KeyAction.Press));
        submit(new KeyInput(code, KeyAction.Release));
        return await MillisecondsAsync(next, started, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    /// <summary>From <paramref name="started"/> to the frame; NaN when none came within <paramref name="timeout"/> (a failed sample).</summary>
    internal static async Task<double> MillisecondsAsync(Task<long?> frame, long started, TimeSpan timeout)
    {
        try
        {
            return await frame.WaitAsync(timeout).ConfigureAwait(false) is { } at ? Stopwatch.GetElapsedTime(started, at).TotalMilliseconds : double.NaN;
        }
        catch (TimeoutException)
        {
            return double.NaN;
        }
    }

    /// <summary>A display request → the first frame covering the whole new mode.</summary>
    internal static async Task<double> RepaintAsync(Action<GuestInput> submit, FrameWatch frames, DisplayProperties mode)
    {
        await Task.Delay(100).ConfigureAwait(false);
        var next = frames.Next(f => f.Width == mode.Width && f.Height == mode.Height);
        var started = Stopwatch.GetTimestamp();
        submit(new DisplayInput(mode));
        return await MillisecondsAsync(next, started, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>Journal bytes a second over 2 s, idle or with a key every 33 ms.</summary>
    private static async Task<double> BandwidthAsync(Lockstep lockstep, bool typing)
    {
        static long Total(Lockstep l) => Enum.GetValues<JournalKind>().Sum(l.Entries);
        var before = Total(lockstep);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            if (typing)
            {
                lockstep.Submit(new KeyInput(Evdev.KeyA, KeyAction.Press));
                lockstep.Submit(new KeyInput(Evdev.KeyA, KeyAction.Release));
            }
            await Task.Delay(33).ConfigureAwait(false);
        }
        return (Total(lockstep) - before) * (double)JournalEntry.Bytes / clock.Elapsed.TotalSeconds;
    }

    private static async Task<(double Failover, double Protected)> FailoverAsync(Lockstep lockstep, FrameWatch released, int bar)
    {
        using var stop = new CancellationTokenSource();
        var typist = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                lockstep.Submit(new KeyInput(Evdev.KeyA, KeyAction.Press));
                lockstep.Submit(new KeyInput(Evdev.KeyA, KeyAction.Release));
                await Task.Delay(33).ConfigureAwait(false);
            }
        });
        await Task.Delay(500).ConfigureAwait(false);
        var resyncs = lockstep.Resyncs;
        var next = released.Next(f => f.Y >= bar);
        var started = Stopwatch.GetTimestamp();
        lockstep.Primary.Stop(); // as if its process died
        var failover = await MillisecondsAsync(next, started, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        while (lockstep.Resyncs == resyncs && Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30))
            await Task.Delay(5).ConfigureAwait(false);
        var protectedAt = Stopwatch.GetTimestamp();
        await stop.CancelAsync().ConfigureAwait(false);
        await typist.ConfigureAwait(false);
        return (failover, Stopwatch.GetElapsedTime(started, protectedAt).TotalMilliseconds);
    }

    internal static string Overhead(string name, List<double> free, List<double> ft)
    {
        var (a, b) = (Statistics.Median(free), Statistics.Median(ft));
        var overhead = (b / a) - 1;
        return Invariant($"{name}: free {a:F1} ms (p95 {Statistics.Percentile(free, 0.95):F1}), fault-tolerant {b:F1} ms (p95 {Statistics.Percentile(ft, 0.95):F1}); overhead {overhead * 100:+0.0;-0.0} % (goal ≤ 10 %: {(overhead <= 0.10 ? "met" : "missed")})");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>Frames as they come (flushed, or released), and waits for the next one that satisfies a test.</summary>
    internal sealed class FrameWatch
    {
        private readonly Lock _gate = new();
        private (Func<(int Y, int Width, int Height), bool> Test, TaskCompletionSource<long?> Done)? _waiting;

        public void Frame(int y, int width, int height)
        {
            TaskCompletionSource<long?>? done = null;
            lock (_gate)
            {
                if (_waiting is { } w && w.Test((y, width, height)))
                {
                    done = w.Done;
                    _waiting = null;
                }
            }
            done?.TrySetResult(Stopwatch.GetTimestamp());
        }

        /// <summary>The timestamp of the next frame that passes <paramref name="test"/>; null if none within the wait.</summary>
        public async Task<long?> Next(Func<(int Y, int Width, int Height), bool> test)
        {
            var done = new TaskCompletionSource<long?>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
                _waiting = (test, done);
            return await done.Task.ConfigureAwait(false);
        }
    }
}
