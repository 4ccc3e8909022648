using System.Diagnostics;
using System.Globalization;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.Cli;

/// <summary>
/// `bench host --motion-seconds N`: the desktop's CPU per flush under the full-motion panel — in process (its vCPU
/// threads), served with the guest's resources in shared memory, and served copying every flush (`--arena-kib 0`, the
/// version 1 protocol's way) — in interleaved rounds, so the machine's noise falls on all three alike; with the served
/// host's busiest threads.
/// </summary>
internal static class BenchHostMotion
{
    private const int Rounds = 3;

    public static async Task RunAsync(LocalDesktop local, RemoteDesktop shared, RemoteDesktop copying, double seconds, TextWriter stdout)
    {
        var samples = new Dictionary<string, List<double>> { ["in-process"] = [], ["served, shared resources"] = [], ["served, copying"] = [] };
        var threads = new Dictionary<string, string>();
        for (var round = 0; round < Rounds; round++)
        {
            samples["in-process"].Add(await PerFlushAsync(local, () => Sum(local.Machine.VcpuCpuTimes), seconds).ConfigureAwait(false));
            foreach (var (name, remote) in new[] { ("served, shared resources", shared), ("served, copying", copying) })
            {
                var pid = remote.ProcessId!.Value;
                var before = ThreadCpu(pid);
                samples[name].Add(await PerFlushAsync(remote, () => TimeSpan.FromTicks(ThreadCpu(pid).Values.Sum() / 100), seconds).ConfigureAwait(false));
                var after = ThreadCpu(pid);
                threads[name] = string.Join(", ", after.Select(t => (t.Key, Ns: t.Value - before.GetValueOrDefault(t.Key))).OrderByDescending(t => t.Ns).Take(3)
                    .Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Key} {t.Ns / 1e6:F0} ms")));
            }
        }
        await stdout.WriteLineAsync($"  desktop CPU per flush, full-motion panel (960x540 at 60 Hz; {Rounds} interleaved rounds of {seconds:F0} s, median)").ConfigureAwait(false);
        foreach (var (name, values) in samples)
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"    {name,-26} {Statistics.Median(values),7:F3} ms   (rounds: {string.Join(" ", values.Select(v => v.ToString("F3", CultureInfo.InvariantCulture)))})")).ConfigureAwait(false);
        foreach (var (name, top) in threads)
            await stdout.WriteLineAsync($"    {name}: busiest host threads, last round: {top}").ConfigureAwait(false);
    }

    private static async Task<double> PerFlushAsync(IDesktopMachine desktop, Func<TimeSpan> cpu, double seconds)
    {
        var flushes = 0L;
        void OnFlush(ScanoutFlush _) => Interlocked.Increment(ref flushes);
        if (!desktop.SetMotion(true))
            throw new InvalidOperationException("the desktop does not take motion requests");
        await Task.Delay(500).ConfigureAwait(false);
        desktop.Flushed += OnFlush;
        var started = cpu();
        await Task.Delay(TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        var used = cpu() - started;
        desktop.Flushed -= OnFlush;
        desktop.SetMotion(false);
        await Task.Delay(300).ConfigureAwait(false);
        return used.TotalMilliseconds / Math.Max(1, Interlocked.Read(ref flushes));
    }

    /// <summary>Each thread's time on a CPU in ns (`/proc/PID/task/TID/schedstat`), by "comm/tid".</summary>
    private static Dictionary<string, long> ThreadCpu(int pid)
    {
        var result = new Dictionary<string, long>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var ns = long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                result[$"{File.ReadAllText(Path.Combine(task, "comm")).Trim()}/{Path.GetFileName(task)}"] = ns;
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }
        return result;
    }

    private static TimeSpan Sum(IEnumerable<TimeSpan?> times) => times.Aggregate(TimeSpan.Zero, (sum, t) => sum + (t ?? TimeSpan.Zero));
}
