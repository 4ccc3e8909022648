namespace Vdi.Vmm.Cli;

internal static class Statistics
{
    public static double Median(IReadOnlyList<double> samples) => Percentile(samples, 0.5);

    /// <summary>Nearest-rank percentile.</summary>
    public static double Percentile(IReadOnlyList<double> samples, double p)
    {
        if (samples.Count == 0)
            return double.NaN;
        var sorted = samples.Order().ToArray();
        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }
}
