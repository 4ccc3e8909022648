using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

public sealed class SignInTests(SiteWithFailedDesktop site) : IClassFixture<SiteWithFailedDesktop>
{
    [Fact]
    public async Task The_desktop_list_sends_a_signed_out_browser_to_sign_in()
    {
        await using var context = await site.NewContextAsync();
        var page = await context.NewPageAsync();

        await page.GotoAsync(PageContract.Desktops);

        await Expect(page).ToHaveURLAsync(PageContract.SignInUrl());
        await Expect(page).ToHaveTitleAsync("Vdi");
        await Expect(page.Locator("#username")).ToBeVisibleAsync();
        await Expect(page.Locator("#password")).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-in")).ToBeVisibleAsync();
        await Screenshots.SaveAsync(page, "signin");
    }

    [Fact]
    public async Task A_wrong_password_shows_an_error_and_stays_on_sign_in()
    {
        await using var context = await site.NewContextAsync();
        var page = await context.NewPageAsync();

        await PageContract.SignInAsync(page, password: "not-the-password");

        await Expect(page.Locator("#sign-in-error")).ToBeVisibleAsync();
        await Expect(page.Locator("#sign-in-error")).Not.ToBeEmptyAsync();
        await Expect(page).ToHaveURLAsync(PageContract.SignInUrl());
    }
}
