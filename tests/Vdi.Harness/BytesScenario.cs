namespace Vdi.Harness;

/// <summary>
/// Single keystrokes (the bytes each cost; their key-to-paint is <see cref="KeyScenario"/>'s) and the idle desktop's bytes
/// per second — all of it, and outside the top bar's clock (which changes once a second). What lies outside the clock
/// is measured from what each frame's operations cover (<see cref="FrameRecord.BytesOutside"/>), not by frame.
/// </summary>
internal static class BytesScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var viewer = await s.ControllerAsync(1920, 1080);
        var bar = s.TopBarHeight();
        await Scenario.SettleAsync(viewer, bar);
        var clock = s.ClockArea();

        var bytes = new List<double>();
        var keys = s.Quick ? 5 : 30;
        for (var i = 0; i < keys; i++)
        {
            viewer.ClearFrames();
            await viewer.KeyAsync("KeyB", down: true);
            await viewer.KeyAsync("KeyB", down: false);
            await Task.Delay(300);
            bytes.Add(viewer.Frames.Sum(f => f.BytesOutside(clock)));
        }

        await Scenario.SettleAsync(viewer, bar);
        viewer.ClearFrames();
        var window = s.Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(10);
        await Task.Delay(window);
        var idle = viewer.Frames;
        return
        [
            Figures.Of("bytes per keystroke (operations outside the clock)", bytes, "B"),
            new Figure("bytes per idle second (the clock ticks)", idle.Sum(f => f.WireBytes) / window.TotalSeconds, null, "B/s"),
            new Figure("bytes per idle second outside the clock", idle.Sum(f => f.BytesOutside(clock)) / window.TotalSeconds, null, "B/s", "0"),
        ];
    }
}
