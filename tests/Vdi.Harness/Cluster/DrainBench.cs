using System.Diagnostics;
using System.Net.Http.Json;
using Vdi.Benchmarks;
using Vdi.Protocol;
using Vdi.Tests.Shared;

namespace Vdi.Harness.Cluster;

/// <summary>
/// The drain part of <c>vdi-harness cluster</c>: Chromium, signed in through a host, shows the built-in desktop and
/// types into it; each round drains the host that runs the desktop (<c>POST /api/hosts/{name}/drain</c>), waits for the
/// page to be connected again, and undoes the drain.
/// </summary>
internal static class DrainBench
{
    private static readonly TimeSpan s_after = TimeSpan.FromMilliseconds(500);

    /// <summary>Runs <paramref name="rounds"/> drains; returns the summary line.</summary>
    public static async Task<string> RunAsync(Dictionary<string, ClusterHost> hosts, Guid builtIn, int rounds)
    {
        var via = hosts["host-c"];
        await using var chromium = await ChromiumPage.OpenAsync(via.BaseAddress, ClusterHost.AdminPassword, 1280, 720);
        var page = chromium.Page;
        await page.Locator("canvas#screen").ClickAsync();
        await Task.Delay(1500); // the first full frame and its lossless refresh
        var total = new List<double>();
        var perDesktop = new List<double>();
        var gap = new List<double>();
        var typingGap = new List<double>();
        var downtime = new List<double>();
        using var stop = new CancellationTokenSource();
        var typist = MigrateScenario.TypeAsync(page, stop.Token);
        try
        {
            for (var i = 0; i < rounds; i++)
            {
                var host = (await ClusterBench.Get(via, builtIn)).Host!;
                var from = await MigrateScenario.NowAsync(page);
                var at = Stopwatch.GetTimestamp();
                var response = await via.Api.PostAsync($"api/hosts/{host}/drain", null);
                response.EnsureSuccessStatusCode();
                var report = (await response.Content.ReadFromJsonAsync<DrainReport>())!;
                var answered = Stopwatch.GetElapsedTime(at).TotalMilliseconds;
                if (report.Failed.Count > 0)
                    throw new InvalidOperationException($"draining {host}: {string.Join("; ", report.Failed.Select(f => $"{f.Name}: {f.Error}"))}");
                // Connected again, and a frame drawn since.
                var drawnBy = await MigrateScenario.NowAsync(page);
                await page.WaitForFunctionAsync(
                    "t => document.querySelector('#status')?.dataset.state === 'connected' && window.__vdiDraws.some(d => d.at > t)", drawnBy,
                    new() { Timeout = 60_000 });
                await Task.Delay(s_after);
                var to = await MigrateScenario.NowAsync(page);
                total.Add(answered);
                perDesktop.Add(answered / report.Moved.Count);
                gap.Add(await MigrateScenario.LongestGapAsync(page, from, to));
                downtime.AddRange(report.Moved.Select(m => m.DowntimeMs ?? double.NaN));
                Console.WriteLine($"  {host} drained of {report.Moved.Count} desktop(s) ({string.Join(", ", report.Moved.Select(m => $"{m.Name} → {m.To}, paused {m.DowntimeMs:F1} ms"))}) in {answered:F0} ms; longest frame gap in Chromium {gap[^1]:F0} ms");
                (await via.Api.DeleteAsync($"api/hosts/{host}/drain")).EnsureSuccessStatusCode();

                var window = TimeSpan.FromMilliseconds(to - from);
                from = await MigrateScenario.NowAsync(page);
                await Task.Delay(window);
                typingGap.Add(await MigrateScenario.LongestGapAsync(page, from, await MigrateScenario.NowAsync(page)));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await typist;
        }
        return $"drain a host (median of {rounds}): {Stats.Median(total):F0} ms, {Stats.Median(perDesktop):F0} ms per desktop moved, each paused {Stats.Median(downtime):F1} ms; " +
            $"longest frame gap in Chromium {Stats.Median(gap):F0} ms (typing without a drain: {Stats.Median(typingGap):F0} ms)";
    }
}
