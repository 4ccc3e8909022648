using System.Diagnostics;

namespace Vdi.Harness;

/// <summary>
/// Resize-to-paint through the .NET client: the client asks for a new size (ChangeDisplay) → the first frame at that
/// size is painted (every tile decoded onto the client's framebuffer). Alternates 1920x1080 and 1904x1064 so every
/// request is a real change; also reports the bytes of those full-screen frames.
/// </summary>
internal static class ResizeScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var viewer = await s.ControllerAsync(1280, 720);
        var latency = new List<double>();
        var fullFrameBytes = new List<double>();
        var rounds = s.Quick ? 4 : 30;
        for (var i = 0; i < rounds; i++)
        {
            var (width, height) = i % 2 == 0 ? (1920, 1080) : (1904, 1064);
            var next = viewer.NextAsync(f => f.Width == width && f.Height == height, TimeSpan.FromSeconds(15));
            var asked = Stopwatch.GetTimestamp();
            await viewer.ChangeDisplayAsync(Scenario.Display(width, height));
            var frame = await next;
            latency.Add(Figures.Milliseconds(asked, frame.PaintedAt));
            if (width == 1920)
                fullFrameBytes.Add(frame.WireBytes / 1024.0);
            await Task.Delay(250);
        }
        return
        [
            Figures.Of("resize-to-paint, 1920x1080 (.NET client)", latency, "ms", "p95 ≤ 100 ms"),
            Figures.Of("bytes per full-screen repaint, 1920x1080", fullFrameBytes, "KiB"),
        ];
    }
}
