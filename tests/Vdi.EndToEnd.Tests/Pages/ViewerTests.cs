using System.Text.Json;
using Vdi.EndToEnd.Tests.Infrastructure;

namespace Vdi.EndToEnd.Tests.Pages;

/// <summary>The viewer on a running desktop VM: the display follows the browser at its device pixels.</summary>
public sealed class ViewerTests(SiteWithDesktop site) : IClassFixture<SiteWithDesktop>
{
    [Fact]
    public async Task The_canvas_and_the_desktop_follow_the_window_in_device_pixels()
    {
        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var page = await laptop.NewPageAsync();

        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);
        await PageContract.ExpectDisplayAsync(page, 1280, 720);

        await page.SetViewportSizeAsync(1000, 700);
        await PageContract.ExpectDisplayAsync(page, 1000, 700);
    }

    [Fact]
    public async Task A_phone_takes_over_at_its_own_device_pixels_and_the_laptop_is_told()
    {
        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var laptopPage = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(laptopPage, site.Broker);
        await PageContract.ExpectDisplayAsync(laptopPage, 1280, 720);

        await using var phone = await site.NewContextAsync(390, 844, deviceScaleFactor: 3);
        var phonePage = await phone.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(phonePage, site.Broker);

        await PageContract.ExpectDisplayAsync(phonePage, 1170, 2532);
        await Expect(laptopPage.Locator("#session-ended")).ToBeVisibleAsync();
        await Expect(laptopPage.Locator("#session-ended")).ToContainTextAsync("another device");
    }

    [Fact]
    public async Task On_a_phone_nothing_but_the_panel_handle_lies_over_the_desktop()
    {
        await using var phone = await site.NewContextAsync(390, 844, deviceScaleFactor: 3);
        var page = await phone.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);
        await PageContract.ExpectDisplayAsync(page, 1170, 2532);

        // Every element with a box, except the canvas, what holds it, the guest's own cursor and the handle.
        var layout = await page.EvaluateAsync<JsonElement>("""
            () => {
                const canvas = document.querySelector("canvas#screen");
                const handle = document.querySelector("#panel-handle");
                const box = e => { const r = e.getBoundingClientRect(); return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height }; };
                const c = box(canvas);
                const covering = [...document.body.querySelectorAll("*")]
                    .filter(e => e !== canvas && !e.contains(canvas) && e.id !== "cursor" && e !== handle && !handle.contains(e))
                    .filter(e => { const r = box(e); return r.width > 0 && r.height > 0 && r.left < c.right && r.right > c.left && r.top < c.bottom && r.bottom > c.top; })
                    .map(e => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className ? "." + String(e.className).trim().replace(/\s+/g, ".") : ""}`);
                return { canvas: c, handle: box(handle), covering, window: [innerWidth, innerHeight] };
            }
            """);

        Assert.Empty(layout.GetProperty("covering").EnumerateArray().Select(e => e.GetString()));
        var canvas = layout.GetProperty("canvas");
        Assert.Equal((0, 0, 390, 844), (canvas.GetProperty("left").GetDouble(), canvas.GetProperty("top").GetDouble(), canvas.GetProperty("width").GetDouble(), canvas.GetProperty("height").GetDouble()));
        var handle = layout.GetProperty("handle");
        Assert.InRange(handle.GetProperty("width").GetDouble(), 1, 24);
        Assert.InRange(handle.GetProperty("height").GetDouble(), 1, 64);
        Assert.Equal(390, handle.GetProperty("right").GetDouble());
        await Expect(page.Locator("#panel")).ToBeHiddenAsync();

        // The handle opens the panel with the status and the figures.
        await PageContract.PanelHandle(page).ClickAsync();
        await Expect(page.Locator("#status")).ToBeVisibleAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
        await Expect(page.Locator("#overlay-resolution")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Typing_on_the_canvas_changes_what_it_shows()
    {
        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var page = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);
        await PageContract.ExpectDisplayAsync(page, 1280, 720);
        var screen = PageContract.Screen(page);
        await screen.ClickAsync();
        using var before = await SettledAsync(screen);

        await page.Keyboard.TypeAsync("hello", new KeyboardTypeOptions { Delay = 30 });

        var changed = await CanvasPixels.ChangesBelowBarAsync(screen, before);
        Assert.True(changed, "typing \"hello\" did not change the canvas below the top bar");
        await Screenshots.SaveAsync(page, "viewer");
    }

    [Fact]
    public async Task Reloading_the_viewer_connects_again()
    {
        await using var laptop = await site.NewContextAsync(1280, 720, deviceScaleFactor: 1);
        var page = await laptop.NewPageAsync();
        await PageContract.OpenBuiltInDesktopAsync(page, site.Broker);

        await page.ReloadAsync();

        await Expect(page).ToHaveURLAsync(PageContract.ViewerUrl());
        await Expect(page.Locator("#status")).ToHaveTextAsync(PageContract.Connected());
        await PageContract.ExpectDisplayAsync(page, 1280, 720);
    }

    /// <summary>The canvas once two captures a moment apart agree below the top bar (the clock keeps ticking in it).</summary>
    private static async Task<CanvasPixels> SettledAsync(ILocator screen)
    {
        var previous = await CanvasPixels.CaptureAsync(screen);
        for (var deadline = DateTime.UtcNow + Site.Timeout; DateTime.UtcNow < deadline;)
        {
            await Task.Delay(250);
            var current = await CanvasPixels.CaptureAsync(screen);
            var settled = !current.DiffersBelow(previous, previous.TopBarHeight());
            previous.Dispose();
            previous = current;
            if (settled)
                return current;
        }
        previous.Dispose();
        throw new TimeoutException("the canvas kept changing below the top bar before anything was typed");
    }
}
