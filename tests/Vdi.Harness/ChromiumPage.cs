using Microsoft.Playwright;

namespace Vdi.Harness;

/// <summary>
/// Debian's Chromium through Playwright on the real web client, signed in as the administrator and showing the built-in
/// desktop. A script added before the page loads timestamps, with <c>performance.now()</c>, every <c>keydown</c> (on the
/// window, ahead of the viewer's own listener), every window <c>resize</c> and every <c>drawImage</c> on the viewer's
/// canvas; the client itself is not changed.
/// </summary>
internal sealed class ChromiumPage : IAsyncDisposable
{
    private const string ChromiumPath = "/usr/bin/chromium";

    private const string Probe = """
        (() => {
          const draws = [], keys = [], resizes = [];
          let presented = 0, seen = 0;
          Object.assign(window, { __vdiDraws: draws, __vdiKeys: keys, __vdiResizes: resizes, __vdiPresented: () => presented });
          const draw = CanvasRenderingContext2D.prototype.drawImage;
          CanvasRenderingContext2D.prototype.drawImage = function (image, x, y, ...rest) {
            const result = draw.call(this, image, x, y, ...rest);
            if (this.canvas.id === "screen")
              draws.push({ at: performance.now(), y, width: this.canvas.width });
            return result;
          };
          window.addEventListener("keydown", () => keys.push(performance.now()), true);
          window.addEventListener("resize", () => resizes.push(performance.now()), true);
          const tick = () => { if (draws.length !== seen) { seen = draws.length; presented++; } requestAnimationFrame(tick); };
          requestAnimationFrame(tick);
        })();
        """;

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly IBrowserContext _context;

    private ChromiumPage(IPlaywright playwright, IBrowser browser, IBrowserContext context, IPage page)
    {
        _playwright = playwright;
        _browser = browser;
        _context = context;
        Page = page;
    }

    public IPage Page { get; }

    /// <summary>Chromium at <paramref name="width"/>x<paramref name="height"/> CSS pixels (scale 1), the desktop open and its first frame drawn.</summary>
    public static Task<ChromiumPage> OpenAsync(HarnessBroker broker, int width, int height) =>
        OpenAsync(broker.BaseAddress, HarnessBroker.AdminPassword, width, height);

    /// <summary>The same through any broker (a host of a cluster), signed in as its administrator with <paramref name="password"/>.</summary>
    public static async Task<ChromiumPage> OpenAsync(Uri baseAddress, string password, int width, int height)
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: the browser figures use Debian's Chromium; run `apt-get install chromium`.");
        var playwright = await Playwright.CreateAsync();
        IBrowser? browser = null;
        try
        {
            browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions
            {
                BaseURL = baseAddress.ToString(),
                ViewportSize = new ViewportSize { Width = width, Height = height },
                DeviceScaleFactor = 1,
            });
            await context.AddInitScriptAsync(Probe);
            var page = await context.NewPageAsync();
            var opened = new ChromiumPage(playwright, browser, context, page);
            await page.GotoAsync("signin");
            await page.Locator("#username").FillAsync(HarnessBroker.AdminUserName);
            await page.Locator("#password").FillAsync(password);
            await page.Locator("#sign-in").ClickAsync();
            await page.Locator($"li.desktop[data-name=\"{Server.Desktops.DesktopPool.BuiltInName}\"] button.open").ClickAsync();
            await opened.WaitForCanvasAsync(width, height);
            return opened;
        }
        catch
        {
            if (browser is not null)
                await browser.DisposeAsync();
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>Waits until the viewer's canvas is <paramref name="width"/>x<paramref name="height"/> and something was drawn at that width.</summary>
    public async Task WaitForCanvasAsync(int width, int height) => await Page.WaitForFunctionAsync(
        "([w, h]) => { const c = document.querySelector('canvas#screen'); return c && c.width === w && c.height === h && window.__vdiDraws.some(d => d.width === w); }",
        new[] { width, height }, new PageWaitForFunctionOptions { Timeout = 60_000 });

    public async ValueTask DisposeAsync()
    {
        await _context.DisposeAsync();
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
