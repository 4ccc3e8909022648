using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

public sealed class DashboardTests(SiteWithFailedDesktop site) : IClassFixture<SiteWithFailedDesktop>
{
    [Fact]
    public async Task The_dashboard_lists_the_desktop_with_its_state_and_controls_and_the_sessions()
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
        await Expect(desktop.Locator("button.start")).ToBeVisibleAsync();
        await Expect(desktop.Locator("button.stop")).ToBeVisibleAsync();
        await Expect(desktop.Locator("button.restart")).ToBeVisibleAsync();
        // With no session yet the table may be empty, so it need only be there.
        await Expect(page.Locator("table#sessions")).ToBeAttachedAsync();
        await Screenshots.SaveAsync(page, "dashboard");
    }
}
