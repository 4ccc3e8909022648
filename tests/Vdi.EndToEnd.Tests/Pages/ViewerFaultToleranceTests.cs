using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Vdi.EndToEnd.Tests.Infrastructure;
using Vdi.Protocol;
using Vdi.Tests.Shared;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>
/// A fault-tolerant desktop seen from the browser: the dashboard marks the running built-in desktop fault-tolerant — it
/// moves into a pair at once — and shows the pair protected; Chromium types into it while the primary's host process is killed — the page keeps
/// its SignalR connection (no reload: a marker set on <c>window</c> survives), typing goes on, and everything typed is
/// on the terminal and painted; the dashboard counts the failover, and its "Fail over now" makes another.
/// </summary>
public sealed class ViewerFaultToleranceTests(SiteWithDesktop site) : IClassFixture<SiteWithDesktop>
{
    [Fact]
    public async Task Typing_goes_on_while_the_primarys_process_is_killed_and_the_dashboard_fails_over_by_hand()
    {
        using var api = await site.Broker.SignedInApiAsync();
        var desktop = await site.Broker.WaitForBuiltInDesktopAsync("Running", Site.Timeout);
        await using var admin = await site.NewContextAsync(1280, 800);
        var dashboard = await admin.NewPageAsync();
        await PageContract.SignInAsync(dashboard);
        await Expect(dashboard).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        await dashboard.GotoAsync(PageContract.Admin);
        var row = PageContract.DashboardDesktopRow(dashboard);
        await Expect(row.Locator(".state")).ToHaveTextAsync("Running", new() { Timeout = 20000 });
        if (Environment.GetEnvironmentVariable("VDI_TEST_ISOLATION") == "InProcess")
        {
            await row.Locator("button.fault-tolerance-on").ClickAsync();
            await Expect(dashboard.Locator("#admin-error")).ToContainTextAsync("host processes");
            return;
        }
        await row.Locator("button.fault-tolerance-on").ClickAsync();
        await Expect(dashboard.Locator("#admin-notice")).ToContainTextAsync("fault-tolerant now", new() { Timeout = 30000 });
        await Expect(row.Locator(".fault-tolerance")).ToHaveTextAsync(new Regex("^fault-tolerant: protected"), new() { Timeout = 60000 });

        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var page = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);
        await PageContract.ExpectDisplayAsync(page, 1280, 720);
        await page.EvaluateAsync("() => { window.__marker = 'before-failover'; }");
        var screen = PageContract.Screen(page);
        await screen.ClickAsync();
        await page.Keyboard.TypeAsync("abc", new KeyboardTypeOptions { Delay = 30 });
        await GuestTerminal.UntilLastLineAsync(api, desktop.Id, "abc");

        var status = await api.GetFromJsonAsync<FaultToleranceSummary>($"api/desktops/{desktop.Id}/fault-tolerance");
        var typing = page.Keyboard.TypeAsync("def", new KeyboardTypeOptions { Delay = 30 });
        Process.GetProcessById(status!.PrimaryProcessId!.Value).Kill(); // the primary's host dies while keys arrive
        await typing;
        using var before = await CanvasPixels.CaptureAsync(screen);
        await page.Keyboard.TypeAsync("ghi", new KeyboardTypeOptions { Delay = 30 });
        await GuestTerminal.UntilLastLineAsync(api, desktop.Id, "abcdefghi");
        var painted = await CanvasPixels.ChangesBelowBarAsync(screen, before);
        Assert.True(painted, "what was typed after the failover was not painted on the canvas");
        Assert.Equal("before-failover", await page.EvaluateAsync<string>("() => window.__marker"));
        await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
        await Expect(page.Locator("#session-ended")).Not.ToBeVisibleAsync();

        // The dashboard counts it, is protected again, and fails over by hand.
        await Expect(row.Locator(".fault-tolerance")).ToHaveTextAsync(new Regex("^fault-tolerant: protected.*1 failover$"), new() { Timeout = 60000 });
        await Screenshots.SaveAsync(dashboard, "fault-tolerance");
        await row.Locator("button.failover").ClickAsync();
        await Expect(row.Locator(".fault-tolerance")).ToHaveTextAsync(new Regex("2 failovers$"), new() { Timeout = 30000 });
        await page.Keyboard.TypeAsync("j", new KeyboardTypeOptions { Delay = 30 });
        await GuestTerminal.UntilLastLineAsync(api, desktop.Id, "abcdefghij");
        await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
    }
}
