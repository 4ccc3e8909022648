using System.Globalization;

namespace Vdi.Harness;

/// <summary>
/// The figures of one run with desktops in the broker's process and out of it (each in a sandboxed host process of its
/// own), side by side: one row per figure, median and p95 of each, and for key-to-paint latencies and frame rates the
/// difference out of process makes, held against the goal — at most 1 ms added at p95 on key-to-paint, no lower frame rate.
/// </summary>
internal static class SideBySide
{
    /// <summary>What desktops out of process may add to key-to-paint at p95.</summary>
    public const double LatencyBudgetMs = 1;

    public static void Print(TextWriter output, IReadOnlyList<Figure> inProcess, IReadOnlyList<Figure> outOfProcess)
    {
        output.WriteLine($"| {"figure",-60} | {"in process",12} | {"p95",12} | {"out of process",14} | {"p95",12} | {"out − in",-16} | {"goal",-14} | reference (this run or this machine)");
        output.WriteLine($"|{new string('-', 62)}|{new string('-', 14)}|{new string('-', 14)}|{new string('-', 16)}|{new string('-', 14)}|{new string('-', 18)}|{new string('-', 16)}|-------");
        foreach (var name in Rows(inProcess, outOfProcess))
        {
            var a = inProcess.FirstOrDefault(f => f.Name == name);
            var b = outOfProcess.FirstOrDefault(f => f.Name == name);
            var any = a ?? b!;
            var notes = new[] { Failed("in process", a), Failed("out of process", b), any.Anchor }.Where(n => n.Length > 0);
            output.WriteLine($"| {name,-60} | {Median(a),12} | {P95(a),12} | {Median(b),14} | {P95(b),12} | {Difference(a, b)?.Text ?? "",-16} | {any.Goal,-14} | {string.Join("; ", notes)}");
        }
    }

    /// <summary>One line per compared figure: both values, the difference, and whether the goal is met.</summary>
    public static void PrintGoals(TextWriter output, IReadOnlyList<Figure> inProcess, IReadOnlyList<Figure> outOfProcess)
    {
        output.WriteLine($"Out of process against in process (goal: at most {LatencyBudgetMs:0} ms added at p95 on key-to-paint, no lower frame rate):");
        foreach (var a in inProcess.Where(f => f.Compare != Comparison.None))
        {
            if (outOfProcess.FirstOrDefault(f => f.Name == a.Name) is not { } b || Difference(a, b) is not { } d)
                continue;
            var (from, to) = a.Compare == Comparison.LatencyP95 ? (a.P95!.Value, b.P95!.Value) : (a.Median, b.Median);
            var verdict = double.IsNaN(d.Value) ? "n/a (timed out)"
                : a.Compare == Comparison.LatencyP95 ? (d.Value <= LatencyBudgetMs ? "met" : "MISSED")
                : d.Value >= 0 ? "met" : $"lower ({(d.Value / from * 100).ToString("0.0", CultureInfo.InvariantCulture)} %)";
            output.WriteLine($"  {a.Name}: {Figures.Format(from, a.Unit)} → {Figures.Format(to, a.Unit)}, {d.Text}: {verdict}");
        }
    }

    /// <summary>The first run's figures in order, each figure only the second has placed after the one it follows there.</summary>
    private static List<string> Rows(IReadOnlyList<Figure> first, IReadOnlyList<Figure> second)
    {
        var rows = first.Select(f => f.Name).Distinct().ToList();
        var after = -1;
        foreach (var name in second.Select(f => f.Name))
        {
            var at = rows.IndexOf(name);
            if (at < 0)
                rows.Insert(at = after + 1, name);
            after = at;
        }
        return rows;
    }

    /// <summary>
    /// Out of process less in process, to the 0.1 the table shows (the verdict reads what is printed): p95 for
    /// latencies, medians for frame rates; NaN when a side timed out.
    /// </summary>
    private static (double Value, string Text)? Difference(Figure? a, Figure? b)
    {
        if (a is null || b is null || a.Compare == Comparison.None)
            return null;
        var (x, y, at) = a.Compare == Comparison.LatencyP95 ? (a.P95 ?? double.NaN, b.P95 ?? double.NaN, " at p95") : (a.Median, b.Median, "");
        var value = double.IsFinite(x) && double.IsFinite(y) ? Math.Round(y - x, 1) + 0.0 : double.NaN; // + 0.0: no "-0.0"
        return (value, double.IsNaN(value) ? "n/a" : value.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " " + a.Unit + at);
    }

    private static string Median(Figure? f) => f is null ? "—" : Figures.Format(f.Median, f.Unit);

    private static string P95(Figure? f) => f?.P95 is { } p ? Figures.Format(p, f.Unit) : "";

    private static string Failed(string where, Figure? f) => f is { TimedOut: > 0 } ? $"FAILED {where}: {f.TimedOut} of {f.Samples} samples timed out" : "";
}
