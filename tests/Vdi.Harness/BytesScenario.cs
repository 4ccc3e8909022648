using System.Diagnostics;

namespace Vdi.Harness;

/// <summary>
/// Single keystrokes (key → glyph painted by the .NET client, and the bytes it cost) and the idle desktop's bytes
/// per second — all of it, and outside the top bar's clock (which changes once a second).
/// </summary>
internal static class BytesScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var viewer = await s.ControllerAsync(1920, 1080);
        var bar = s.TopBarHeight();
        await Scenario.SettleAsync(viewer, bar);

        var latency = new List<double>();
        var bytes = new List<double>();
        var keys = s.Quick ? 5 : 30;
        for (var i = 0; i < keys; i++)
        {
            viewer.ClearFrames();
            var glyph = viewer.NextAsync(f => f.MinY >= bar, TimeSpan.FromSeconds(10));
            var pressed = Stopwatch.GetTimestamp();
            await viewer.KeyAsync("KeyB", down: true);
            await viewer.KeyAsync("KeyB", down: false);
            var frame = await glyph;
            latency.Add(Figures.Milliseconds(pressed, frame.PaintedAt));
            await Task.Delay(300);
            bytes.Add(viewer.Frames.Where(f => f.MinY >= bar).Sum(f => f.WireBytes));
        }

        await Scenario.SettleAsync(viewer, bar);
        viewer.ClearFrames();
        var window = s.Quick ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(10);
        await Task.Delay(window);
        var idle = viewer.Frames;
        return
        [
            Figures.Of("key-to-paint, one keystroke (.NET client, loopback)", latency, "ms", "p95 ≤ 25 ms"),
            Figures.Of("bytes per keystroke", bytes, "B"),
            new Figure("bytes per idle second (the clock ticks)", idle.Sum(f => f.WireBytes) / window.TotalSeconds, null, "B/s"),
            new Figure("bytes per idle second outside the clock", idle.Where(f => f.MinY >= bar).Sum(f => f.WireBytes) / window.TotalSeconds, null, "B/s", "0"),
        ];
    }
}
