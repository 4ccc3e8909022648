using System.Text.RegularExpressions;

namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>The web client's page contract: the routes and selectors the client promises to keep.</summary>
public static partial class PageContract
{
    public const string SignIn = "/signin";
    public const string Desktops = "/";
    public const string Admin = "/admin";

    /// <summary>The viewer's status once it shows the desktop ("Connected", never "Disconnected").</summary>
    [GeneratedRegex("(?<!dis)connected", RegexOptions.IgnoreCase)]
    public static partial Regex Connected();

    [GeneratedRegex(@"/signin(\?.*)?$")]
    public static partial Regex SignInUrl();

    [GeneratedRegex(@"/desktop/[^/?#]+$")]
    public static partial Regex ViewerUrl();

    /// <summary>Opens the sign-in page and submits <paramref name="userName"/> and <paramref name="password"/>.</summary>
    public static async Task SignInAsync(IPage page, string userName = LiveBroker.AdminUserName, string password = LiveBroker.AdminPassword)
    {
        ArgumentNullException.ThrowIfNull(page);
        await page.GotoAsync(SignIn);
        await page.Locator("#username").FillAsync(userName);
        await page.Locator("#password").FillAsync(password);
        await page.Locator("#sign-in").ClickAsync();
    }

    public static ILocator DesktopItem(IPage page, string name = LiveBroker.BuiltInDesktop)
    {
        ArgumentNullException.ThrowIfNull(page);
        return page.Locator($"li.desktop[data-name=\"{name}\"]");
    }

    public static ILocator DashboardDesktopRow(IPage page, string name = LiveBroker.BuiltInDesktop)
    {
        ArgumentNullException.ThrowIfNull(page);
        return page.Locator($"table#desktops tr[data-name=\"{name}\"]");
    }

    /// <summary>The dashboard's integrity panel (the desktop chosen with its row's Integrity button; the first listed by default).</summary>
    public static ILocator IntegrityPanel(IPage page) => page.Locator("section#integrity");

    /// <summary>The integrity panel's alerts, newest first: each row has <c>data-kind</c> and <c>data-applied</c>.</summary>
    public static ILocator IntegrityAlerts(IPage page) => page.Locator("table#integrity-alerts tbody tr");

    public static ILocator Screen(IPage page) => page.Locator("canvas#screen");

    /// <summary>The one element allowed over the desktop: a narrow tab at the window's right edge that opens <c>#panel</c>.</summary>
    public static ILocator PanelHandle(IPage page) => page.Locator("#panel-handle");

    /// <summary>Signs in as the administrator, opens the built-in desktop from the list and waits until the viewer is connected.</summary>
    public static async Task OpenBuiltInDesktopAsync(IPage page, LiveBroker broker)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(broker);
        await SignInAsync(page);
        await Expect(page).ToHaveURLAsync(broker.BaseAddress.ToString());
        await DesktopItem(page).Locator("button.open").ClickAsync();
        await Expect(page).ToHaveURLAsync(ViewerUrl());
        await Expect(page.Locator("#status")).ToHaveTextAsync(Connected());
    }

    /// <summary>Waits until the viewer's canvas has <paramref name="width"/>x<paramref name="height"/> device pixels and the desktop shows that mode.</summary>
    public static async Task ExpectDisplayAsync(IPage page, int width, int height)
    {
        ArgumentNullException.ThrowIfNull(page);
        var screen = Screen(page);
        await Expect(screen).ToHaveAttributeAsync("width", width.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(screen).ToHaveAttributeAsync("height", height.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Expect(page.Locator("#overlay-resolution")).ToContainTextAsync($"{width}x{height}");
    }
}
