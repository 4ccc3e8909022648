using System.Diagnostics;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench host [--keys N] [--engine E] [--sandbox] [--motion-seconds N]`: what a desktop in a host process of its own costs, next to
/// an in-process desktop in the same run: start to first display shown, key to flush event (median, p95), and the
/// host's idle memory; with --motion-seconds, the desktop's CPU per flush under full motion (<see cref="BenchHostMotion"/>).
/// </summary>
internal static class BenchHost
{
    private static readonly DisplayProperties s_mode = new(1280, 720, 96);

    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var keys = options.Int("keys", 100, 10, 10_000);
        var engine = options.Engine(Execution.EngineChoice.Software);
        var sandbox = options.Flag("sandbox");
        var motionSeconds = options.Int("motion-seconds", 0, 0, 600);
        options.EnsureConsumed();
        var work = Path.Combine(Path.GetTempPath(), $"vdi-bench-host-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            await stdout.WriteLineAsync($"host: desktop {s_mode.Width}x{s_mode.Height}, {engine} engine, {keys} keys, served {(sandbox ? "with" : "without")} the sandbox").ConfigureAwait(false);

            var clock = Stopwatch.StartNew();
            await using var local = LocalDesktop.Build(new MachineConfig { MemoryMiB = 512, Image = DesktopGuest.Build(), Engine = engine, Gpu = new GpuOptions { MaxWidth = 3840, MaxHeight = 2160 } });
            var localStart = await StartAndShowAsync(local, clock).ConfigureAwait(false);

            clock.Restart();
            await using var remote = await RemoteDesktop.LaunchAsync(new RemoteDesktopOptions { WorkDirectory = work, Engine = engine, Sandbox = sandbox }).ConfigureAwait(false);
            var connected = clock.Elapsed.TotalMilliseconds;
            var remoteStart = await StartAndShowAsync(remote, clock).ConfigureAwait(false);
            await stdout.WriteLineAsync($"  start to first display shown   in-process {localStart,8:F1} ms   served {remoteStart,8:F1} ms (process up and connected after {connected:F1} ms)").ConfigureAwait(false);

            var localKeys = await KeyLatenciesAsync(local, keys).ConfigureAwait(false);
            var remoteKeys = await KeyLatenciesAsync(remote, keys).ConfigureAwait(false);
            await stdout.WriteLineAsync($"  key to flush event             in-process median {Statistics.Median(localKeys),6:F3} ms  p95 {Statistics.Percentile(localKeys, 0.95),6:F3} ms").ConfigureAwait(false);
            await stdout.WriteLineAsync($"                                 served     median {Statistics.Median(remoteKeys),6:F3} ms  p95 {Statistics.Percentile(remoteKeys, 0.95),6:F3} ms").ConfigureAwait(false);
            await stdout.WriteLineAsync($"                                 added      median {Statistics.Median(remoteKeys) - Statistics.Median(localKeys),6:F3} ms  p95 {Statistics.Percentile(remoteKeys, 0.95) - Statistics.Percentile(localKeys, 0.95),6:F3} ms").ConfigureAwait(false);

            await stdout.WriteLineAsync($"  host's copy of a full frame    {CopyCost(local),8:F3} ms into the shared scanout (median of 200; a typed glyph's rectangle costs a small fraction)").ConfigureAwait(false);

            if (motionSeconds > 0)
            {
                await using var copying = await RemoteDesktop.LaunchAsync(new RemoteDesktopOptions { WorkDirectory = Path.Combine(work, "copying"), Engine = engine, Sandbox = sandbox, ArenaKiB = 0 }).ConfigureAwait(false);
                await StartAndShowAsync(copying, clock).ConfigureAwait(false);
                await BenchHostMotion.RunAsync(local, remote, copying, motionSeconds, stdout).ConfigureAwait(false);
                await copying.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }

            await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            var (rss, shmem) = ProcessMemory.Read(remote.ProcessId!.Value);
            await stdout.WriteLineAsync($"  served host idle RSS           {rss / 1024.0,8:F1} MiB (of which shared scanout and other shmem {shmem / 1024.0:F1} MiB)").ConfigureAwait(false);
            await remote.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await local.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<double> StartAndShowAsync(IDesktopMachine desktop, Stopwatch clock)
    {
        await desktop.StartAsync().ConfigureAwait(false);
        await desktop.RequestDisplayAsync(s_mode, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>Presses a letter, times until the first flush below the top bar, releases it; repeated.</summary>
    private static async Task<List<double>> KeyLatenciesAsync(IDesktopMachine desktop, int keys)
    {
        var samples = new List<double>(keys);
        TaskCompletionSource<long>? pending = null;
        void OnFlush(ScanoutFlush flush)
        {
            if (flush.Damage.Y > 0 && !flush.IsFullFrame)
                Volatile.Read(ref pending)?.TrySetResult(Stopwatch.GetTimestamp());
        }
        desktop.Flushed += OnFlush;
        try
        {
            for (var i = 0; i < keys; i++)
            {
                _ = UsKeyboardLayout.TryMap((char)('a' + (i % 26)), out var code, out _);
                var flushed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref pending, flushed);
                var sent = Stopwatch.GetTimestamp();
                desktop.SendKey(code, true);
                var at = await flushed.Task.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                samples.Add(Stopwatch.GetElapsedTime(sent, at).TotalMilliseconds);
                Volatile.Write(ref pending, null);
                desktop.SendKey(code, false);
                await Task.Delay(15).ConfigureAwait(false);
            }
        }
        finally
        {
            desktop.Flushed -= OnFlush;
        }
        return samples;
    }

    /// <summary>What the host pays per flush for keeping pixels in shared memory: a full-frame copy, timed.</summary>
    private static double CopyCost(LocalDesktop desktop)
    {
        using var scanout = ScanoutWriter.Create(3840, 2160);
        var frame = new GpuRect(0, 0, s_mode.Width, s_mode.Height);
        var samples = new List<double>();
        for (var i = 0; i < 200; i++)
        {
            var started = Stopwatch.GetTimestamp();
            _ = scanout.Copy(desktop.Machine.Devices.Gpu, frame) ?? throw new InvalidOperationException("no scanout to copy");
            samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        return Statistics.Median(samples);
    }
}
