using System.Net;
using System.Net.Http.Json;
using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>The viewer when its desktop stops under it: the page says why, and the badge no longer says connected.</summary>
public sealed class ViewerEndTests(SiteWithDesktop site) : IClassFixture<SiteWithDesktop>
{
    [Fact]
    public async Task Stopping_the_desktop_shows_the_viewer_why_and_the_badge_leaves_connected()
    {
        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var page = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);
        await PageContract.ExpectDisplayAsync(page, 1280, 720);

        using var api = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = site.Broker.BaseAddress };
        (await api.PostAsJsonAsync("api/auth/sign-in", new { userName = LiveBroker.AdminUserName, password = LiveBroker.AdminPassword })).EnsureSuccessStatusCode();
        var desktop = await site.Broker.WaitForBuiltInDesktopAsync("Running", Site.Timeout);
        (await api.PostAsync($"api/desktops/{desktop.Id}/stop", null)).EnsureSuccessStatusCode();

        await Expect(page.Locator("#session-ended")).ToBeVisibleAsync();
        await Expect(page.Locator("#session-ended")).ToContainTextAsync("stopped");
        await Expect(page.Locator("#session-ended")).ToHaveAttributeAsync("data-reason", "desktop-stopped");
        await Expect(page.Locator("#status")).Not.ToHaveTextAsync(PageContract.Connected());
        await Expect(page.Locator("#viewport")).ToHaveAttributeAsync("data-ended", "desktop-stopped");
    }
}
