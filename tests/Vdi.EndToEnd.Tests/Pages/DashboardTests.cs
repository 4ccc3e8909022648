using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Vdi.EndToEnd.Tests.Infrastructure;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>The dashboard on a running desktop: live without a reload, short with hundreds of sessions, filtered and paged.</summary>
public sealed class DashboardTests(SiteWithDesktop site) : IClassFixture<SiteWithDesktop>
{
    /// <summary>How long the dashboard may take to show a change made elsewhere: it asks again every 2 s.</summary>
    private static readonly LocatorAssertionsToHaveTextOptions s_live = new() { Timeout = 6000 };

    [Fact]
    public async Task The_admin_sees_the_running_desktop_with_its_thumbnail_activity_and_live_session()
    {
        await using var admin = await site.NewContextAsync(1280, 800);
        var page = await admin.NewPageAsync();
        await PageContract.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        var item = PageContract.DesktopItem(page);
        await Expect(item.Locator(".state")).ToHaveTextAsync("Running");
        await Expect(item.Locator("button.open")).ToBeEnabledAsync();
        await Screenshots.SaveAsync(page, "desktops");

        await using var laptop = await site.NewContextAsync(1280, 720);
        var viewer = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(viewer, site.Broker);
        await viewer.Keyboard.TypeAsync("echo hello from the dashboard test\n", new KeyboardTypeOptions { Delay = 20 });

        await page.GotoAsync(PageContract.Admin);
        var desktop = PageContract.DashboardDesktopRow(page);
        await Expect(desktop.Locator(".state")).ToHaveTextAsync("Running");
        await Expect(desktop.Locator("td.engine")).Not.ToBeEmptyAsync();
        if (Environment.GetEnvironmentVariable("VDI_TEST_ISOLATION") is null or "" or "Process") // the default: a host process of its own
            await Expect(desktop.Locator("td.engine .sandbox")).ToContainTextAsync("own process, sandbox ");
        await Expect(desktop.Locator("td.live-sessions")).ToHaveTextAsync("1", s_live);
        await Expect(desktop.Locator("td.fps")).Not.ToHaveTextAsync("0 fps", new() { Timeout = 10000 });
        await Expect(desktop.Locator("td.bandwidth")).ToContainTextAsync("B/s");
        var thumbnail = desktop.Locator("td.thumb img");
        await Expect(thumbnail).ToBeVisibleAsync();
        Assert.True(await ThumbnailShownAsync(thumbnail), "the thumbnail never loaded");
        var session = page.Locator("table#sessions tbody tr[data-live=\"true\"]");
        await Expect(session).ToHaveCountAsync(1);
        await Expect(page.Locator("#sessions-live")).ToBeCheckedAsync();
        // One host without a cluster: this machine, running the built-in desktop.
        var host = page.Locator($"table#hosts tbody tr[data-host=\"{Environment.MachineName}\"]");
        await Expect(host).ToHaveAttributeAsync("data-state", "Active");
        await Expect(host.Locator("td").Nth(2)).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^1 / \d+$"));
        await Screenshots.SaveAsync(page, "dashboard");
    }

    [Fact]
    public async Task With_hundreds_of_sessions_the_page_stays_short_and_the_filter_live_toggle_and_pages_work()
    {
        const int Ended = 240;
        await SeedHistoryAsync(Ended);
        await using var admin = await site.NewContextAsync(1280, 800);
        var page = await admin.NewPageAsync();
        await PageContract.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        await page.GotoAsync(PageContract.Admin);
        var rows = page.Locator("table#sessions tbody tr");
        var pager = page.Locator("#sessions-pager .range");

        // Live only by default: none of the seeded sessions.
        await Expect(page.Locator("#sessions-live")).ToBeCheckedAsync();
        await page.Locator("#sessions-filter").FillAsync("seeded");
        await Expect(rows).ToHaveCountAsync(0);
        await Expect(page.Locator("#sessions-empty")).ToContainTextAsync("No live sessions");

        await page.Locator("#sessions-live").UncheckAsync();
        await Expect(pager).ToHaveTextAsync($"1–20 of {Ended}");
        await Expect(rows).ToHaveCountAsync(20);
        await Expect(page.Locator("table#audit tbody tr")).ToHaveCountAsync(20);
        var height = await page.EvaluateAsync<int>("document.documentElement.scrollHeight");
        Assert.True(height < 3000, $"the dashboard is {height} px tall with {Ended} sessions");

        await page.Locator("#sessions-pager button.next").ClickAsync();
        await Expect(pager).ToHaveTextAsync($"21–40 of {Ended}");
        await Expect(rows.First.Locator("td").Nth(2)).ToHaveTextAsync($"seeded-{Ended - 21}"); // newest first

        // A narrower filter starts again at the first page, and the refresh keeps it.
        await page.Locator("#sessions-filter").FillAsync("seeded-17");
        await Expect(pager).ToHaveTextAsync("1–11 of 11"); // seeded-17 and seeded-170 to seeded-179
        await page.WaitForTimeoutAsync(2500);
        await Expect(rows).ToHaveCountAsync(11);
        await Expect(page.Locator("#sessions-filter")).ToHaveValueAsync("seeded-17");

        await page.Locator("#audit-filter").FillAsync("item-12");
        await Expect(page.Locator("#audit-pager .range")).ToHaveTextAsync("1–11 of 11"); // item-12 and item-120 to item-129
        await Expect(page.Locator("table#audit tbody tr").First).ToContainTextAsync("item-129");
    }

    [Fact]
    public async Task The_dashboard_shows_a_new_session_and_a_stopped_desktop_without_a_reload()
    {
        await using var admin = await site.NewContextAsync(1280, 800);
        var page = await admin.NewPageAsync();
        await PageContract.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        await page.GotoAsync(PageContract.Admin);
        var desktop = PageContract.DashboardDesktopRow(page);
        await Expect(desktop.Locator(".state")).ToHaveTextAsync("Running");
        using var api = await site.Broker.SignedInApiAsync();
        var id = (await api.GetFromJsonAsync<List<DesktopSummary>>("api/desktops"))!.Single(d => d.Name == LiveBroker.BuiltInDesktop).Id;

        var created = await api.PostAsJsonAsync("api/sessions", new CreateSessionRequest(id, new ClientDisplay(1024, 768, 1, null, null, null, null), "appears-live"));
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<CreateSessionResponse>())!.SessionId;
        var row = page.Locator($"table#sessions tr[data-id=\"{session}\"]");
        await Expect(row).ToBeVisibleAsync(new() { Timeout = 6000 });
        await Expect(row.Locator("td.display")).ToHaveTextAsync("1024×768");

        try
        {
            (await api.PostAsync($"api/desktops/{id}/stop", null)).EnsureSuccessStatusCode();
            await Expect(desktop.Locator(".state")).ToHaveTextAsync("Stopped", s_live);
            await Expect(row).ToHaveCountAsync(0, new() { Timeout = 6000 }); // it ended with its desktop: no longer live
        }
        finally
        {
            // The other tests of this class need the desktop running again.
            (await api.PostAsync($"api/desktops/{id}/start", null)).EnsureSuccessStatusCode();
            await site.Broker.WaitForBuiltInDesktopAsync("Running", TimeSpan.FromSeconds(60));
        }
        await Expect(desktop.Locator(".state")).ToHaveTextAsync("Running", s_live);
    }

    /// <summary>Whether the image loads (it is fetched again every few seconds, so it is asked a few times).</summary>
    private static async Task<bool> ThumbnailShownAsync(ILocator image)
    {
        for (var deadline = DateTime.UtcNow + Site.Timeout; DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            if (await image.EvaluateAsync<int>("img => img.complete ? img.naturalWidth : 0") > 0)
                return true;
        }
        return false;
    }

    /// <summary>
    /// <paramref name="count"/> ended sessions of the administrator on the built-in desktop, from "seeded-0" (oldest) on,
    /// and as many audit entries "item-0" on: history that would take minutes to make through the API.
    /// </summary>
    private async Task SeedHistoryAsync(int count)
    {
        await using var db = site.Broker.OpenDatabase();
        var adminId = (await db.Users.SingleAsync(u => u.UserName == LiveBroker.AdminUserName)).Id;
        var desktopId = (await db.Desktops.SingleAsync(d => d.Name == LiveBroker.BuiltInDesktop)).Id;
        var start = DateTimeOffset.UtcNow.AddDays(-1);
        for (var i = 0; i < count; i++)
        {
            db.Sessions.Add(new SessionRecord
            {
                Id = Guid.NewGuid(), DesktopId = desktopId, UserId = adminId, ClientName = $"seeded-{i}", Width = 1280, Height = 720,
                DevicePixelRatio = 1, Dpi = 96, ConnectTokenHash = $"seeded-{i}", ConnectTokenUsed = true, ConnectTokenExpiresAt = start,
                CreatedAt = start.AddSeconds(i), EndedAt = start.AddSeconds(i + 1), EndReason = SessionEndReasons.Disconnected,
            });
            db.Audit.Add(new AuditRecord { At = start.AddSeconds(i), UserId = adminId, Action = "e2e.seeded", Detail = $"item-{i}" });
        }
        await db.SaveChangesAsync();
    }
}

/// <summary>The dashboard on a desktop that cannot start: its state and controls.</summary>
public sealed class FailedDesktopDashboardTests(SiteWithFailedDesktop site) : IClassFixture<SiteWithFailedDesktop>
{
    [Fact]
    public async Task The_dashboard_lists_the_failed_desktop_with_its_state_and_controls()
    {
        await using var context = await site.NewContextAsync();
        var page = await context.NewPageAsync();
        await PageContract.SignInAsync(page);
        await Expect(page).ToHaveURLAsync(site.Broker.BaseAddress.ToString());

        await page.GotoAsync(PageContract.Admin);

        await Expect(page).ToHaveTitleAsync("Vdi");
        var desktop = PageContract.DashboardDesktopRow(page);
        await Expect(desktop).ToBeVisibleAsync();
        await Expect(desktop.Locator(".state")).ToHaveTextAsync("Failed");
        await Expect(desktop.Locator(".reason")).ToContainTextAsync(LiveBroker.MissingKvm);
        await Expect(desktop.Locator("button.start")).ToBeVisibleAsync();
        await Expect(desktop.Locator("button.stop")).ToBeVisibleAsync();
        await Expect(desktop.Locator("button.restart")).ToBeVisibleAsync();
        await Expect(desktop.Locator("td.thumb img")).ToHaveCountAsync(0);
        await Expect(page.Locator("table#sessions")).ToBeAttachedAsync();
    }
}
