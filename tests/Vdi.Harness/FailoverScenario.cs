using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Vdi.Server.Desktops;

namespace Vdi.Harness;

/// <summary>
/// Fault-tolerant failover as a user sees it (desktops in host processes only: a pair needs them). The built-in desktop
/// is made fault-tolerant through the API (it moves into a pair by live migration); Chromium shows it while a key is typed every 30 ms, and the
/// primary's host process is killed (SIGKILL). Key-to-paint through the .NET client is measured first on the desktop
/// as a single host, then as a pair. Each failover sample is one failover: the time from the kill to the next frame
/// drawn on the canvas, and the longest gap between drawn frames in the second after it. The reference, in the same
/// run: from an instant of typing alone to its next drawn frame, and the longest gap over a second of typing alone.
/// </summary>
internal static class FailoverScenario
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(1);

    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        if (s.Broker.Isolation != DesktopIsolation.Process)
            return [];
        var keysSingle = await KeysAsync(s);
        (await s.Broker.Api.PutAsJsonAsync($"api/desktops/{s.Desktop.Id}/fault-tolerance", new { enabled = true })).EnsureSuccessStatusCode(); // it moves into a pair
        await UntilProtectedAsync(s, failovers: 0);
        var keysPair = await KeysAsync(s);

        await using var chromium = await ChromiumPage.OpenAsync(s.Broker, 1280, 720);
        var page = chromium.Page;
        await page.Locator("canvas#screen").ClickAsync();
        await Task.Delay(1500);
        var (next, gap, nextAlone, gapAlone) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        using var stop = new CancellationTokenSource();
        var typist = MigrateScenario.TypeAsync(page, stop.Token);
        try
        {
            await Task.Delay(500);
            for (var i = 0; i < (s.Quick ? 1 : 3); i++)
            {
                var from = await MigrateScenario.NowAsync(page);
                await Task.Delay(s_window);
                nextAlone.Add(await NextDrawAsync(page, from));
                gapAlone.Add(await MigrateScenario.LongestGapAsync(page, from, from + s_window.TotalMilliseconds));

                var pair = s.Host.Pair ?? throw new InvalidOperationException("the desktop is not a fault-tolerant pair");
                from = await MigrateScenario.NowAsync(page);
                Process.GetProcessById(pair.Primary.ProcessId!.Value).Kill();
                await Task.Delay(s_window);
                next.Add(await NextDrawAsync(page, from));
                gap.Add(await MigrateScenario.LongestGapAsync(page, from, from + s_window.TotalMilliseconds));
                await UntilProtectedAsync(s, failovers: i + 1);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await typist;
        }
        var alone = Figures.Of("", nextAlone, "ms");
        var aloneGap = Figures.Of("", gapAlone, "ms");
        var single = Figures.Of("", keysSingle, "ms");
        return
        [
            Figures.Of("key-to-paint, fault-tolerant pair (.NET client)", keysPair, "ms", "≤ +10 %",
                $"the same desktop as a single host: {Figures.Format(single.Median, "ms")} median, {Figures.Format(single.P95 ?? double.NaN, "ms")} p95"),
            Figures.Of("failover: primary's host killed → next frame in Chromium", next, "ms", "≤ 200 ms",
                $"typing alone, an instant → its next frame: {Figures.Format(alone.Median, "ms")} median"),
            Figures.Of("longest frame gap in Chromium across a failover, typing", gap, "ms", "",
                $"typing alone: {Figures.Format(aloneGap.Median, "ms")} median, {Figures.Format(aloneGap.P95 ?? double.NaN, "ms")} p95"),
        ];
    }

    /// <summary>Key-to-paint through the .NET client, as the keys scenario measures it: keystrokes 300 ms apart.</summary>
    private static async Task<List<double>> KeysAsync(Scenario s)
    {
        await using var viewer = await s.ControllerAsync(1920, 1080);
        await Scenario.SettleAsync(viewer, s.TopBarHeight());
        var clock = s.ClockArea();
        var samples = new List<double>();
        for (var i = 0; i < (s.Quick ? 5 : 40); i++)
        {
            samples.Add(await KeyScenario.KeyToPaintAsync(viewer, clock));
            await Task.Delay(300);
        }
        return samples;
    }

    /// <summary>The first draw on the canvas after <paramref name="from"/>, in ms from it; NaN when none came.</summary>
    private static async Task<double> NextDrawAsync(IPage page, double from) => await page.EvaluateAsync<double?>(
        "from => { const t = window.__vdiDraws.map(d => d.at).find(t => t > from); return t === undefined ? null : t - from; }", from) ?? double.NaN;

    private static async Task UntilProtectedAsync(Scenario s, int failovers)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(50))
        {
            if (s.Host.Pair?.Status is { State: "protected" } status && status.Failovers == failovers)
                return;
        }
        throw new TimeoutException($"the fault-tolerant desktop was not protected within 60 s: {s.Host.FaultToleranceSummary}");
    }
}
