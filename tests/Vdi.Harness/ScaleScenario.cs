namespace Vdi.Harness;

/// <summary>
/// Scale on this host, full motion: 1, 4 and 16 viewers of one desktop at 1920x1080 (one controller, the rest shadow
/// sessions), then 8 desktops at 1280x720 with a viewer each. The viewers run in a process of their own
/// (<see cref="ViewerProcess"/>) and acknowledge on arrival without decoding, so the figures are the server's: frames
/// each viewer got per second (median and the slowest) and the broker's process CPU in cores, guests included.
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
        var (fps, cores) = await MeasureMotionAsync(s, viewers, [s.Machine]);
        return
        [
            Slowest($"frame rate per viewer, {count} viewer{(count == 1 ? "" : "s")} on one desktop", fps),
            new Figure($"server CPU, {count} viewer{(count == 1 ? "" : "s")} on one desktop", cores, null, "cores", "", "of 2"),
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
            var machines = desktops.Select(d => s.Broker.Machine(d.Id)).ToList();
            var (fps, cores) = await MeasureMotionAsync(s, viewers, machines);
            return
            [
                Slowest($"frame rate per desktop, {count} desktops at 1280x720", fps),
                new Figure($"server CPU, {count} desktops", cores, null, "cores", "", "of 2"),
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
        new($"{name} (p95 column: slowest)", Benchmarks.Stats.Median(fps), fps.Min(), "fps", "60 fps");

    /// <summary>Motion on every machine; frames per second of each viewer and the whole process's CPU in cores.</summary>
    private static async Task<(List<double> Fps, double Cores)> MeasureMotionAsync(Scenario s, ViewerProcess viewers, List<Vmm.Machine.Machine> machines)
    {
        foreach (var machine in machines)
            machine.SetMotion(true);
        try
        {
            await Task.Delay(1000);
            var cpu = new CpuMeter(machines);
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
