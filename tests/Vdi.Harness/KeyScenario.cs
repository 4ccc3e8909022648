using System.Diagnostics;

namespace Vdi.Harness;

/// <summary>
/// Key-to-paint through the .NET client: one keystroke → the first frame drawing anything outside the top bar's clock,
/// painted; keystrokes 300 ms apart. With desktops both in process and out of process, the keystrokes alternate between
/// the two brokers' desktops (A B, B A, …), so that both isolations meet the same moments of this shared machine and
/// their p95s can be compared to the millisecond.
/// </summary>
internal static class KeyScenario
{
    public static async Task<IReadOnlyList<IReadOnlyList<Figure>>> RunAsync(IReadOnlyList<Scenario> scenarios)
    {
        var viewers = new List<HubViewer>();
        try
        {
            foreach (var s in scenarios)
                viewers.Add(await s.ControllerAsync(1920, 1080));
            for (var i = 0; i < scenarios.Count; i++)
                await Scenario.SettleAsync(viewers[i], scenarios[i].TopBarHeight());
            var clocks = scenarios.Select(s => s.ClockArea()).ToList();
            var latency = scenarios.Select(_ => new List<double>()).ToList();
            for (var round = 0; round < (scenarios[0].Quick ? 5 : 60); round++)
            {
                for (var k = 0; k < scenarios.Count; k++)
                {
                    var i = round % 2 == 0 ? k : scenarios.Count - 1 - k;
                    latency[i].Add(await KeyToPaintAsync(viewers[i], clocks[i]));
                    await Task.Delay(300);
                }
            }
            return [.. latency.Select(samples => (IReadOnlyList<Figure>)
                [Figures.Of("key-to-paint, one keystroke (.NET client, loopback)", samples, "ms", "p95 ≤ 25 ms") with { Compare = Comparison.LatencyP95 }])];
        }
        finally
        {
            foreach (var viewer in viewers)
                await viewer.DisposeAsync();
        }
    }

    /// <summary>Milliseconds from a keystroke to the first painted frame that draws outside the clock; NaN if none came in 10 s.</summary>
    internal static async Task<double> KeyToPaintAsync(HubViewer viewer, Vmm.Devices.Gpu.GpuRect clock)
    {
        viewer.ClearFrames();
        var glyph = viewer.NextAsync(f => f.BytesOutside(clock) > 0, TimeSpan.FromSeconds(10));
        var pressed = Stopwatch.GetTimestamp();
        await viewer.KeyAsync("KeyB", down: true);
        await viewer.KeyAsync("KeyB", down: false);
        try
        {
            return Figures.Milliseconds(pressed, (await glyph).PaintedAt);
        }
        catch (TimeoutException)
        {
            return double.NaN; // counted as a failure, slower than every measured sample
        }
    }
}
