using System.Net.Http.Json;
using Vdi.EndToEnd.Tests.Infrastructure;
using Vdi.Protocol;
using Vdi.Tests.Shared;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>
/// Live migration seen from the browser: the desktop moves to a new VMM instance while Chromium shows it, and the page
/// keeps its SignalR connection — no reload (a marker set on <c>window</c> survives) — and paints what is typed after;
/// the dashboard's Migrate action and the result on the desktop's row.
/// </summary>
public sealed class ViewerMigrationTests(SiteWithDesktop site) : IClassFixture<SiteWithDesktop>
{
    [Fact]
    public async Task The_browser_keeps_its_connection_and_paints_after_the_desktop_migrates()
    {
        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var page = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);
        await PageContract.ExpectDisplayAsync(page, 1280, 720);
        await page.EvaluateAsync("() => { window.__marker = 'before-migration'; }");
        var screen = PageContract.Screen(page);
        await screen.ClickAsync();
        await page.Keyboard.TypeAsync("hello", new KeyboardTypeOptions { Delay = 30 });

        using var api = await site.Broker.SignedInApiAsync();
        var desktop = await site.Broker.WaitForBuiltInDesktopAsync("Running", Site.Timeout);
        await GuestTerminal.UntilLastLineAsync(api, desktop.Id, "hello");
        var migrate = await api.PostAsJsonAsync($"api/desktops/{desktop.Id}/migrate", new { downtimeMs = 50 });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, migrate.StatusCode);
        MigrationStatus? status = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); status is not { IsRunning: false } && DateTime.UtcNow < deadline; await Task.Delay(200))
            status = await api.GetFromJsonAsync<MigrationStatus>($"api/desktops/{desktop.Id}/migration");
        Assert.True(status is { Result: MigrationStatus.Succeeded }, status?.Error ?? "the migration did not end");

        using var before = await CanvasPixels.CaptureAsync(screen);
        await page.Keyboard.TypeAsync(" world", new KeyboardTypeOptions { Delay = 30 });
        await GuestTerminal.UntilLastLineAsync(api, desktop.Id, "hello world");
        var painted = await CanvasPixels.ChangesBelowBarAsync(screen, before);
        Assert.True(painted, "what was typed after the migration was not painted on the canvas");
        Assert.Equal("before-migration", await page.EvaluateAsync<string>("() => window.__marker"));
        await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
        await Expect(page.Locator("#session-ended")).Not.ToBeVisibleAsync();
    }

    [Fact]
    public async Task The_dashboard_migrates_a_desktop_and_shows_its_result_on_the_row()
    {
        await using var admin = await site.NewContextAsync(1280, 800);
        var page = await admin.NewPageAsync();
        await PageContract.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        await page.GotoAsync(PageContract.Admin);
        var row = PageContract.DashboardDesktopRow(page);
        await Expect(row.Locator(".state")).ToHaveTextAsync("Running", new() { Timeout = 20000 });

        await row.Locator("button.migrate").ClickAsync();

        // Polled every 2 s: the row says it migrates (or already that it did), then the result with its downtime.
        await Expect(row.Locator(".migration")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^migrated: downtime [0-9.]+ ms"), new() { Timeout = 60000 });
        await Expect(row.Locator(".migration")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("migration-succeeded"));
        await Expect(row.Locator(".state")).ToHaveTextAsync("Running");
        await Expect(row.Locator("button.migrate")).ToBeEnabledAsync();
        await Screenshots.SaveAsync(page, "migration");
    }
}
