using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

public sealed class DesktopListTests(SiteWithFailedDesktop site) : IClassFixture<SiteWithFailedDesktop>
{
    [Fact]
    public async Task The_admin_lands_on_the_list_and_a_failed_desktop_shows_why_and_cannot_be_opened()
    {
        await using var context = await site.NewContextAsync();
        var page = await context.NewPageAsync();

        await PageContract.SignInAsync(page);

        await Expect(page).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        await Expect(page).ToHaveTitleAsync("Vdi");
        var desktop = PageContract.DesktopItem(page);
        await Expect(desktop).ToBeVisibleAsync();
        await Expect(desktop.Locator(".state")).ToHaveTextAsync("Failed");
        await Expect(desktop.Locator(".reason")).ToContainTextAsync(LiveBroker.MissingKvm);
        await Expect(desktop.Locator("button.open")).ToBeDisabledAsync();
    }
}
