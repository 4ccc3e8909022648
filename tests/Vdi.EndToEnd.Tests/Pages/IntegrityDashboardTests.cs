using System.Diagnostics;
using System.Text.RegularExpressions;
using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>
/// Guest integrity end to end: an attack typed into the built-in desktop's terminal (<c>attack idt</c>, the desktop's
/// own command that overwrites its interrupt table) is caught by the VMM and shows on the admin's dashboard within a
/// second, with a badge on the desktop's row.
/// </summary>
public sealed class IntegrityDashboardTests(SiteWithDesktop site) : IClassFixture<SiteWithDesktop>
{
    [Fact]
    public async Task An_attack_typed_in_the_desktop_shows_on_the_dashboard_within_a_second()
    {
        await using var admin = await site.NewContextAsync(1280, 900);
        var dashboard = await admin.NewPageAsync();
        await PageContract.SignInAsync(dashboard);
        await Expect(dashboard).ToHaveURLAsync(site.Broker.BaseAddress.ToString());
        await dashboard.GotoAsync(PageContract.Admin);
        var row = PageContract.DashboardDesktopRow(dashboard);
        await row.Locator("button.integrity").ClickAsync();
        var panel = PageContract.IntegrityPanel(dashboard);
        await Expect(panel.Locator("h3")).ToContainTextAsync(LiveBroker.BuiltInDesktop);
        await Expect(panel.Locator("#integrity-driver")).ToHaveTextAsync(new Regex("^driver registered, [1-9]"));
        await Expect(PageContract.IntegrityAlerts(dashboard)).ToHaveCountAsync(0);

        await using var laptop = await site.NewContextAsync(1280, 720);
        var viewer = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(viewer, site.Broker);
        await viewer.Keyboard.TypeAsync("attack idt", new KeyboardTypeOptions { Delay = 20 });
        var typed = Stopwatch.StartNew();
        await viewer.Keyboard.PressAsync("Enter");

        var alert = PageContract.IntegrityAlerts(dashboard).First;
        await Expect(alert).ToBeVisibleAsync(new() { Timeout = 1000 });
        var shownAfter = typed.Elapsed;
        await Expect(alert).ToHaveAttributeAsync("data-kind", "protected-page");
        await Expect(alert.Locator("td.address")).ToContainTextAsync("0x");
        await Expect(alert.Locator("td.action")).Not.ToBeEmptyAsync();
        await Expect(alert.Locator("td.result")).ToHaveTextAsync(new Regex("^(applied|refused)$"));
        await Expect(row.Locator(".alert-badge")).ToHaveTextAsync(new Regex(@"^\d+ alerts?$"), new() { Timeout = 6000 });
        await Expect(panel.Locator("#guest-last-line")).ToHaveTextAsync(new Regex("^attack idt: "), new() { Timeout = 6000 }); // read from inside the guest
        await Expect(panel.Locator("#guest-uptime")).ToHaveTextAsync(new Regex(@"^\d+ (s|min \d+ s)$"));
        await Screenshots.SaveAsync(dashboard, "integrity");
        Assert.True(shownAfter < TimeSpan.FromSeconds(1), $"the alert took {shownAfter.TotalMilliseconds:F0} ms to show");
    }
}
