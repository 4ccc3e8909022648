using System.Net.Http.Json;
using Microsoft.Playwright;
using Vdi.Protocol;

namespace Vdi.Harness;

/// <summary>
/// Live migration as a user sees it: Chromium shows the built-in desktop while a key is typed every 30 ms, and the
/// desktop migrates through the REST API (<c>POST /api/desktops/{id}/migrate</c>, then its status polled until it
/// ends). Each sample is one migration: its downtime as the API reports it (the source's pause to the destination's
/// word that it runs) and the longest gap between two frames drawn on the viewer's canvas from the request to 500 ms
/// after the end. The reference, measured in the same run: the longest gap over as long a stretch of typing without a
/// migration.
/// </summary>
internal static class MigrateScenario
{
    private static readonly TimeSpan s_keyInterval = TimeSpan.FromMilliseconds(30);
    private static readonly TimeSpan s_after = TimeSpan.FromMilliseconds(500);

    public static async Task<IReadOnlyList<Figure>> RunAsync(Scenario s)
    {
        await using var chromium = await ChromiumPage.OpenAsync(s.Broker, 1280, 720);
        var page = chromium.Page;
        await page.Locator("canvas#screen").ClickAsync();
        await Task.Delay(1500); // the first full frame and its lossless refresh

        var downtime = new List<double>();
        var gap = new List<double>();
        var typingGap = new List<double>();
        using var stop = new CancellationTokenSource();
        var typist = TypeAsync(page, stop.Token);
        try
        {
            await Task.Delay(500);
            for (var i = 0; i < (s.Quick ? 2 : 6); i++)
            {
                var from = await NowAsync(page);
                var status = await MigrateAsync(s);
                await Task.Delay(s_after);
                var to = await NowAsync(page);
                if (status.Result != MigrationStatus.Succeeded)
                    throw new InvalidOperationException($"the harness's migration failed: {status.Error}");
                downtime.Add(status.DowntimeMs ?? double.NaN);
                gap.Add(await LongestGapAsync(page, from, to));

                // As long a stretch of typing without a migration, the reference.
                var window = TimeSpan.FromMilliseconds(to - from);
                from = await NowAsync(page);
                await Task.Delay(window);
                typingGap.Add(await LongestGapAsync(page, from, await NowAsync(page)));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await typist;
        }
        var reference = Figures.Of("", typingGap, "ms");
        return
        [
            Figures.Of("migration downtime, typing (API's downtimeMs)", downtime, "ms", "≤ 50 ms"),
            Figures.Of("longest frame gap in Chromium across a migration, typing", gap, "ms", "",
                $"typing without a migration: {Figures.Format(reference.Median, "ms")} median, {Figures.Format(reference.P95 ?? double.NaN, "ms")} p95"),
        ];
    }

    /// <summary>A letter every 30 ms, a new line every 40, through Chromium's keyboard until stopped.</summary>
    internal static async Task TypeAsync(IPage page, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            await page.Keyboard.PressAsync(i % 40 == 39 ? "Enter" : ((char)('a' + (i % 26))).ToString());
            try
            {
                await Task.Delay(s_keyInterval, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<MigrationStatus> MigrateAsync(Scenario s)
    {
        var response = await s.Broker.Api.PostAsJsonAsync($"api/desktops/{s.Desktop.Id}/migrate", new { downtimeMs = 50 });
        response.EnsureSuccessStatusCode();
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(20))
        {
            var status = await s.Broker.Api.GetFromJsonAsync<MigrationStatus>($"api/desktops/{s.Desktop.Id}/migration");
            if (status is { IsRunning: false })
                return status;
        }
        throw new TimeoutException("the migration did not end within 60 s");
    }

    internal static Task<double> NowAsync(IPage page) => page.EvaluateAsync<double>("performance.now()");

    /// <summary>The longest gap between two draws on the canvas in [from, to], the window's ends counted as draws.</summary>
    internal static Task<double> LongestGapAsync(IPage page, double from, double to) => page.EvaluateAsync<double>(
        """
        ([from, to]) => {
          const times = [from, ...window.__vdiDraws.map(d => d.at).filter(t => t > from && t < to), to];
          let longest = 0;
          for (let i = 1; i < times.length; i++) longest = Math.max(longest, times[i] - times[i - 1]);
          return longest;
        }
        """, new[] { from, to });
}
