namespace Vdi.Harness;

/// <summary>
/// Scale on this host, full motion: 1, 4 and 16 viewers of one desktop at 1920x1080 (one controller, the rest shadow
/// sessions), then 8 desktops at 1280x720 with a viewer each. The viewers run in a process of their own
/// (<see cref="ViewerProcess"/>) and acknowledge on arrival without decoding, so the figures are the server's: frames
/// each viewer got per second (median and the slowest) and the CPU in cores of the server and the guests together:
/// the broker's process, plus the desktops' host processes when they run out of it (<see cref="CpuMeter"/>).
/// </summary>
internal static class ScaleScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        var figures = new List<Figure>();
        foreach (var count in s.Quick ? [1, 4] : new[] { 1, 4, 16 })
            figures.AddRange(await ViewersAsync(s, count));
        figures.AddRange(await DesktopsAsync(s, s.Quick ? 2 : 8));
        return figures;
    }

    private static async Task<IEnumerable<Figure>> ViewersAsync(Scenario s, int count)
    {
        List<string> tokens = [await s.Broker.SessionTokenAsync(s.Desktop.Id, Scenario.Display(1920, 1080))];
        for (var i = 1; i < count; i++)
            tokens.Add(await s.Broker.ShadowTokenAsync(s.Desktop.Id));
        await using var viewers = await ViewerProcess.StartAsync(s.Broker, tokens, 1920, 1080, paint: false);
        var (fps, cores) = await MeasureMotionAsync(s, viewers, [s.Host], TimeSpan.FromSeconds(1));
        return
        [
            Slowest($"frame rate per viewer, {count} viewer{(count == 1 ? "" : "s")} on one desktop", fps),
            new Figure($"server CPU, guests included, {count} viewer{(count == 1 ? "" : "s")} on one desktop", cores, null, "cores", "", "of 2"),
        ];
    }

    private static async Task<IEnumerable<Figure>> DesktopsAsync(Scenario s, int count)
    {
        var created = new List<Guid>();
        try
        {
            var desktops = new List<Protocol.DesktopSummary> { s.Desktop };
            for (var i = 2; i <= count; i++)
            {
                var desktop = await s.Broker.CreateDesktopAsync($"Harness {i}");
                created.Add(desktop.Id);
                desktops.Add(desktop);
            }
            List<string> tokens = [];
            foreach (var desktop in desktops)
                tokens.Add(await s.Broker.SessionTokenAsync(desktop.Id, Scenario.Display(1280, 720)));
            await using var viewers = await ViewerProcess.StartAsync(s.Broker, tokens, 1280, 720, paint: false);
            var hosts = desktops.Select(d => s.Broker.Host(d.Id)).ToList();
            // Desktops just started (out of process: host processes just started) run a while before they are measured.
            var (fps, cores) = await MeasureMotionAsync(s, viewers, hosts, TimeSpan.FromSeconds(s.Quick ? 2 : 3));
            return
            [
                Slowest($"frame rate per desktop, {count} desktops at 1280x720", fps),
                new Figure($"server CPU, guests included, {count} desktops", cores, null, "cores", "", "of 2"),
            ];
        }
        finally
        {
            foreach (var id in created)
                await s.Broker.DeleteDesktopAsync(id);
        }
    }

    /// <summary>Median frame rate, with the slowest viewer's in the p95 column (the tail that matters here).</summary>
    private static Figure Slowest(string name, List<double> fps) =>
        new($"{name} (p95 column: slowest)", Benchmarks.Stats.Median(fps), fps.Min(), "fps", "60 fps") { Compare = Comparison.FrameRate };

    /// <summary>Motion on every desktop; frames per second of each viewer and the server's and guests' CPU in cores.</summary>
    private static async Task<(List<double> Fps, double Cores)> MeasureMotionAsync(Scenario s, ViewerProcess viewers, List<Server.Desktops.DesktopHost> hosts, TimeSpan settle)
    {
        var machines = hosts.Select(h => h.Desktop ?? throw new InvalidOperationException($"desktop {h.Name} is not running")).ToList();
        foreach (var machine in machines)
            machine.SetMotion(true);
        try
        {
            await Task.Delay(settle);
            var cpu = new CpuMeter(hosts);
            var counts = await viewers.MeasureAsync(s.Window);
            var (wall, host, guest) = cpu.Read();
            return ([.. counts.Frames.Select(f => f / counts.Seconds)], (host + guest).TotalSeconds / wall.TotalSeconds);
        }
        finally
        {
            foreach (var machine in machines)
                machine.SetMotion(false);
        }
    }
}
