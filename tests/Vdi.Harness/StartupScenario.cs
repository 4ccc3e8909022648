using System.Diagnostics;

namespace Vdi.Harness;

/// <summary>
/// What a desktop costs before anyone looks at it: how long one takes to start (REST create → the REST API shows it
/// Running, polled every 10 ms: a host process's start, the runtime's and the VMM's, the guest's boot) and its memory
/// once idle for a few seconds — the growth of the broker's resident set (in process the VM lives there) and, out of
/// process, the host process's VmRSS (the shared scanout counts in both). Each sample creates a desktop (1 vCPU,
/// 256 MiB) and deletes it.
/// </summary>
internal static class StartupScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        var starts = new List<double>();
        var brokerGrowth = new List<double>();
        var hostResident = new List<double>();
        var idle = s.Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(4);
        for (var i = 0; i < (s.Quick ? 1 : 3); i++)
        {
            var before = ResidentAfterCollection();
            var asked = Stopwatch.GetTimestamp();
            var desktop = await s.Broker.CreateDesktopAsync($"Startup {i + 1}", TimeSpan.FromMilliseconds(10));
            starts.Add(Figures.Milliseconds(asked, Stopwatch.GetTimestamp()));
            try
            {
                await Task.Delay(idle);
                brokerGrowth.Add(ResidentAfterCollection() - before);
                if (s.Broker.Host(desktop.Id).HostProcessId is { } pid)
                    hostResident.Add(ProcFs.ResidentMiB(pid));
            }
            finally
            {
                await s.Broker.DeleteDesktopAsync(desktop.Id);
            }
        }
        List<Figure> figures =
        [
            Figures.Of("desktop start (REST create → Running)", starts, "ms"),
            Figures.Of($"idle desktop after {idle.TotalSeconds:0} s: the broker's RSS growth", brokerGrowth, "MiB"),
        ];
        if (hostResident.Count > 0)
            figures.Add(Figures.Of($"idle desktop after {idle.TotalSeconds:0} s: its host process's VmRSS", hostResident, "MiB"));
        foreach (var f in figures)
            Console.WriteLine($"    {f.Name}: {Figures.Format(f.Median, f.Unit)} (median of {f.Samples})");
        return figures;
    }

    /// <summary>This process's VmRSS after a full garbage collection, in MiB.</summary>
    private static double ResidentAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return ProcFs.ResidentMiB(Environment.ProcessId);
    }
}
