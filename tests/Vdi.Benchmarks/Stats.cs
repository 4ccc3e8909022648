using System.Diagnostics;

namespace Vdi.Benchmarks;

/// <summary>Medians and percentiles of samples, and CPU time of this process.</summary>
internal static class Stats
{
    /// <summary>The <paramref name="p"/> quantile (0..1) by the nearest-rank method.</summary>
    public static double Percentile(IReadOnlyCollection<double> samples, double p)
    {
        if (samples.Count == 0)
            return double.NaN;
        // A NaN (a sample that never finished) ranks above every measured one, never at the bottom.
        var sorted = samples.Select(x => double.IsNaN(x) ? double.PositiveInfinity : x).Order().ToArray();
        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyCollection<double> samples) => Percentile(samples, 0.5);

    /// <summary>CPU time of every thread of this process so far.</summary>
    public static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>The median time of <paramref name="work"/> over <paramref name="runs"/> runs, after one warm-up run.</summary>
    public static double MedianMs(int runs, Action work)
    {
        work();
        var samples = new List<double>(runs);
        for (var i = 0; i < runs; i++)
        {
            var start = Stopwatch.GetTimestamp();
            work();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return Median(samples);
    }
}
