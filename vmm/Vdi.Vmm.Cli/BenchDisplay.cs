using System.Diagnostics;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Guest.Desktop;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `vdi-vmm bench display`: for 1920x1080 and 3840x2160, the time from RequestAsync to the guest's
/// full-repaint flush (goal ≤ 20 ms at 1080p), and the guest's own repaint time, measured on the
/// host from its SET_SCANOUT of the new size to the full-frame flush. Each sample alternates with
/// a slightly smaller mode so every request is a real change.
/// </summary>
internal static class BenchDisplay
{
    private static readonly (int Width, int Height)[] s_modes = [(1920, 1080), (3840, 2160)];

    public static async Task<int> ExecuteAsync(CliOptions options, TextWriter stdout)
    {
        var runs = options.Int("runs", 20, 1, 1000);
        options.EnsureConsumed();
        using var machine = MachineBuilder.Build(new MachineConfig { Vcpus = 1, MemoryMiB = 512, Image = DesktopGuest.Build() });
        machine.Start();
        var gpu = machine.Devices.Gpu;
        long scanoutAt = 0;
        var repaint = new List<double>();
        gpu.ScanoutChanged += c => Interlocked.Exchange(ref scanoutAt, Stopwatch.GetTimestamp());
        gpu.Flushed += f =>
        {
            var at = Interlocked.Read(ref scanoutAt);
            if (f.IsFullFrame && at != 0)
            {
                lock (repaint)
                    repaint.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                Interlocked.Exchange(ref scanoutAt, 0);
            }
        };

        await stdout.WriteLineAsync($"display reconfiguration, desktop guest, median/p95 of {runs} requests per mode").ConfigureAwait(false);
        foreach (var (width, height) in s_modes)
        {
            var latency = new List<double>();
            lock (repaint)
                repaint.Clear();
            for (var run = 0; run < runs; run++)
            {
                await machine.Devices.Display.RequestAsync(new DisplayProperties(width - 16, height - 16), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                lock (repaint)
                    repaint.RemoveAt(repaint.Count - 1);
                var ack = await machine.Devices.Display.RequestAsync(new DisplayProperties(width, height), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                latency.Add(ack.Elapsed.TotalMilliseconds);
            }
            double[] guest;
            lock (repaint)
                guest = [.. repaint];
            await stdout.WriteLineAsync(
                $"  {width}x{height}  request→full flush median {Statistics.Median(latency),6:F2} ms  p95 {Statistics.Percentile(latency, 0.95),6:F2} ms" +
                $"   guest repaint median {Statistics.Median(guest),6:F2} ms{(width == 1920 ? "   (goal ≤ 20 ms)" : "")}").ConfigureAwait(false);
        }
        machine.Stop();
        return 0;
    }
}
