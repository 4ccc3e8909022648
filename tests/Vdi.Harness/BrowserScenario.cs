using Microsoft.Playwright;

namespace Vdi.Harness;

/// <summary>
/// The browser figures, in Debian's Chromium on the real web client (<see cref="ChromiumPage"/>): key press → glyph drawn on
/// the canvas (input-to-paint), window resize → first tile drawn at the new size (resize-to-paint, around 1280x720 and 1920x1080), and frames
/// presented per second for the full-motion panel.
/// </summary>
internal static class BrowserScenario
{
    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var chromium = await ChromiumPage.OpenAsync(s.Broker, 1280, 720);
        var page = chromium.Page;
        await page.Locator("canvas#screen").ClickAsync();
        await Task.Delay(1500); // the first full frame and its lossless refresh

        var bar = s.TopBarHeight();
        var input = new List<double>();
        for (var i = 0; i < (s.Quick ? 4 : 30); i++)
        {
            await page.Keyboard.PressAsync("c");
            input.Add(await page.EvaluateAsync<double>(
                """
                async bar => {
                  const key = window.__vdiKeys.at(-1);
                  for (let i = 0; i < 2000; i++) {
                    const d = window.__vdiDraws.find(d => d.at >= key && d.y >= bar);
                    if (d) return d.at - key;
                    await new Promise(r => setTimeout(r, 2));
                  }
                  return NaN;
                }
                """, bar));
            await Task.Delay(200);
        }

        var resize = await ResizesAsync(page, s.Quick ? 2 : 10, (1200, 700), (1280, 720));
        var resizeFullHd = await ResizesAsync(page, s.Quick ? 2 : 10, (1920, 1080), (1904, 1064));
        await page.SetViewportSizeAsync(1280, 720);
        await chromium.WaitForCanvasAsync(1280, 720);

        s.Machine.SetMotion(true);
        await Task.Delay(1000);
        var before = await page.EvaluateAsync<int>("window.__vdiPresented()");
        await Task.Delay(s.Window);
        var presented = await page.EvaluateAsync<int>("window.__vdiPresented()") - before;
        s.Machine.SetMotion(false);

        return
        [
            Figures.Of("input-to-paint in Chromium (keydown → glyph drawn)", input, "ms", "p95 ≤ 25 ms") with { Compare = Comparison.LatencyP95 },
            Figures.Of("resize-to-paint in Chromium, ~1280x720 (resize → drawn)", resize, "ms", "p95 ≤ 100 ms"),
            Figures.Of("resize-to-paint in Chromium, ~1920x1080 (resize → drawn)", resizeFullHd, "ms", "p95 ≤ 100 ms"),
            new Figure("frames presented in Chromium, full motion at 1280x720", presented / s.Window.TotalSeconds, null, "fps", "60 fps") { Compare = Comparison.FrameRate },
        ];
    }

    /// <summary>Resizes the window <paramref name="rounds"/> times, alternating two sizes; each sample is resize → first tile drawn at the new width.</summary>
    private static async Task<List<double>> ResizesAsync(IPage page, int rounds, (int Width, int Height) even, (int Width, int Height) odd)
    {
        var resize = new List<double>();
        for (var i = 0; i < rounds; i++)
        {
            var (width, height) = i % 2 == 0 ? even : odd;
            await page.SetViewportSizeAsync(width, height);
            resize.Add(await page.EvaluateAsync<double>(
                """
                async width => {
                  for (let i = 0; i < 5000; i++) {
                    const at = window.__vdiResizes.at(-1);
                    const d = at === undefined ? undefined : window.__vdiDraws.find(d => d.at >= at && d.width === width);
                    if (d) return d.at - at;
                    await new Promise(r => setTimeout(r, 2));
                  }
                  return NaN;
                }
                """, width));
            await Task.Delay(400);
        }
        return resize;
    }
}
