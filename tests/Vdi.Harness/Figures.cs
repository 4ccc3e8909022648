using System.Diagnostics;
using System.Globalization;
using Vdi.Benchmarks;

namespace Vdi.Harness;

/// <summary>
/// One printed figure: a name, its median and p95 (or one value), the unit, the goal, a reference it is compared with —
/// only one measured in the same run or a fact of this machine (other systems' published figures are cited, with
/// their sources, in the README's text, never printed as if measured here) — and how many of its samples timed out
/// (each counted as a failure, slower than every measured one, never as the fastest).
/// </summary>
internal sealed record Figure(string Name, double Median, double? P95, string Unit, string Goal = "", string Anchor = "", int TimedOut = 0, int Samples = 0)
{
    /// <summary>How the figure out of process is held against the one in process (<see cref="SideBySide"/>).</summary>
    public Comparison Compare { get; init; }
}

/// <summary>What the out-of-process goal asks of a figure.</summary>
internal enum Comparison
{
    None,

    /// <summary>A key-to-paint latency: at most 1 ms added at p95.</summary>
    LatencyP95,

    /// <summary>A frame rate: no lower (medians).</summary>
    FrameRate,
}

/// <summary>Figures from samples (medians and percentiles are the benchmarks' <see cref="Stats"/>) and the table the harness prints.</summary>
internal static class Figures
{
    /// <summary>A figure from samples, where NaN marks a sample that timed out: it ranks above every measured one.</summary>
    public static Figure Of(string name, IReadOnlyCollection<double> samples, string unit, string goal = "", string anchor = "")
    {
        var ranked = samples.Select(x => double.IsNaN(x) ? double.PositiveInfinity : x).ToList();
        var timedOut = samples.Count(double.IsNaN);
        return new(name, Stats.Median(ranked), Stats.Percentile(ranked, 0.95), unit, goal, anchor, timedOut, samples.Count);
    }

    public static double Milliseconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

    public static void Print(TextWriter output, IEnumerable<Figure> figures)
    {
        output.WriteLine($"| {"figure",-52} | {"median",12} | {"p95",12} | {"goal",-14} | reference (this run or this machine)");
        output.WriteLine($"|{new string('-', 54)}|{new string('-', 14)}|{new string('-', 14)}|{new string('-', 16)}|-------");
        foreach (var f in figures)
        {
            var failed = f.TimedOut > 0 ? $"FAILED: {f.TimedOut} of {f.Samples} samples timed out" : "";
            var anchor = f.Anchor.Length > 0 && failed.Length > 0 ? $"{failed}; {f.Anchor}" : f.Anchor + failed;
            output.WriteLine($"| {f.Name,-52} | {Format(f.Median, f.Unit),12} | {(f.P95 is { } p ? Format(p, f.Unit) : ""),12} | {f.Goal,-14} | {anchor}");
        }
    }

    /// <summary>Figures with timed-out samples, for the harness's closing line.</summary>
    public static int FailedSamples(IEnumerable<Figure> figures) => figures.Sum(f => f.TimedOut);

    public static string Format(double value, string unit) => double.IsNaN(value)
        ? "n/a"
        : double.IsPositiveInfinity(value) ? "timed out" : (Math.Abs(value) >= 100 ? value.ToString("N0", CultureInfo.InvariantCulture) : value.ToString("0.0", CultureInfo.InvariantCulture)) + " " + unit;
}
