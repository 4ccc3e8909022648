using System.Net;
using System.Net.Http.Json;
using SkiaSharp;
using Vdi.Protocol;
using Vdi.Server.Api;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Tests.Api;

public sealed class AdminApiTests : IDisposable
{
    private readonly BrokerFactory _factory = new(autoStart: false);

    [Fact]
    public async Task The_audit_log_records_administrative_actions_newest_first()
    {
        var admin = await _factory.SignedInAsync();
        await admin.PostAsJsonAsync("/api/desktops", new { name = "Audited", vcpus = 1, memoryMiB = 512 });
        await admin.PostAsJsonAsync("/api/users", new { userName = "erin", password = "Erin-Pa55word!" });

        var entries = await admin.GetFromJsonAsync<List<AuditEntry>>("/api/audit");
        Assert.Equal(["user.create", "desktop.create"], entries!.Take(2).Select(e => e.Action));
        Assert.Contains("Audited", entries![1].Detail, StringComparison.Ordinal);
        Assert.All(entries!.Take(2), e => Assert.Equal("admin", e.UserName)); // who, by name, not an id
    }

    [Fact]
    public async Task Shadowing_a_desktop_that_is_not_running_is_a_conflict_and_unknown_ones_are_not_found()
    {
        var admin = await _factory.SignedInAsync();
        var desktop = (await admin.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Single();
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync($"/api/desktops/{desktop.Id}/shadow", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync($"/api/desktops/{Guid.NewGuid()}/shadow", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync($"/api/desktops/{desktop.Id}/thumbnail")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync($"/api/sessions/{Guid.NewGuid()}/disconnect", null)).StatusCode);
    }

    [Fact]
    public async Task Users_cannot_read_the_audit_log()
    {
        var admin = await _factory.SignedInAsync();
        await admin.PostAsJsonAsync("/api/users", new { userName = "frank", password = "Frank-Pa55word!" });
        var frank = await _factory.SignedInAsync("frank", "Frank-Pa55word!");
        Assert.Equal(HttpStatusCode.Forbidden, (await frank.GetAsync("/api/audit")).StatusCode);
    }

    [Fact]
    public void A_thumbnail_is_320_pixels_wide_and_keeps_the_aspect()
    {
        var pixels = new byte[1920 * 1080 * 4];
        for (var i = 0; i < pixels.Length; i += 4)
            pixels[i + 2] = 0xFF; // red in B8G8R8X8
        var png = AdminEndpoints.Thumbnail(new ScanoutSnapshot(1920, 1080, GpuFormat.B8G8R8X8, pixels));
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal((320, 180), (bitmap.Width, bitmap.Height));
        Assert.Equal(new SKColor(0xFF, 0, 0), bitmap.GetPixel(100, 100));
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
