namespace Vdi.Harness;

/// <summary>
/// Frame rate at 1920x1080 for the desktop's full-motion panel (960x540 redrawn at 60 Hz by the guest) and for
/// typing (a key every 16 ms, Enter every 40 keys so the terminal scrolls), painted by the .NET client; with bytes
/// per frame and the server's CPU per frame (process CPU minus the guest's vCPU threads and the client's painting).
/// </summary>
internal static class MotionScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var viewer = await s.ControllerAsync(1920, 1080);
        var figures = new List<Figure>();

        s.Machine.SetMotion(true);
        await Task.Delay(1000);
        var (frames, wall, host) = await MeasureAsync(s, viewer, () => Task.Delay(s.Window));
        s.Machine.SetMotion(false);
        figures.Add(new Figure("frame rate, full-motion panel 960x540 at 1920x1080", frames.Count / wall.TotalSeconds, null, "fps", "60 fps", "QEMU display refresh ~33 fps"));
        figures.Add(Figures.Of("frame interval, full motion", Intervals(frames), "ms"));
        figures.Add(Figures.Of("bytes per frame, full motion", [.. frames.Select(f => f.WireBytes / 1024.0)], "KiB"));
        figures.Add(new Figure("server CPU per frame, full motion", host.TotalMilliseconds / Math.Max(1, frames.Count), null, "ms"));

        await Scenario.SettleAsync(viewer, s.TopBarHeight());
        var keys = 0;
        (frames, wall, host) = await MeasureAsync(s, viewer, async () =>
        {
            var end = DateTime.UtcNow + s.Window;
            while (DateTime.UtcNow < end)
            {
                var code = ++keys % 40 == 0 ? "Enter" : "KeyA";
                await viewer.KeyAsync(code, down: true);
                await viewer.KeyAsync(code, down: false);
                await Task.Delay(16);
            }
        });
        figures.Add(new Figure($"frame rate, typing {keys / wall.TotalSeconds:F0} keys/s at 1920x1080", frames.Count / wall.TotalSeconds, null, "fps", "60 fps"));
        figures.Add(new Figure("bytes per keystroke, sustained typing", frames.Sum(f => f.WireBytes) / (double)Math.Max(1, keys), null, "B"));
        figures.Add(new Figure("server CPU per frame, typing", host.TotalMilliseconds / Math.Max(1, frames.Count), null, "ms"));
        return figures;
    }

    private static async Task<(IReadOnlyList<FrameRecord> Frames, TimeSpan Wall, TimeSpan Host)> MeasureAsync(Scenario s, HubViewer viewer, Func<Task> load)
    {
        viewer.ClearFrames();
        var painting = viewer.PaintTime;
        var cpu = new CpuMeter([s.Machine]);
        await load();
        var (wall, host, _) = cpu.Read();
        var frames = viewer.Frames;
        return (frames, wall, host - (viewer.PaintTime - painting));
    }

    private static List<double> Intervals(IReadOnlyList<FrameRecord> frames) =>
        [.. frames.Zip(frames.Skip(1), (a, b) => Figures.Milliseconds(a.PaintedAt, b.PaintedAt))];
}
