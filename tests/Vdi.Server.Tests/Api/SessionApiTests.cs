using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Vdi.Protocol;

namespace Vdi.Server.Tests.Api;

public sealed class SessionApiTests : IDisposable
{
    private readonly BrokerFactory _factory = new();

    private static object Display(object width, object height, object? dpr = null, object? dpi = null) =>
        new { width, height, devicePixelRatio = dpr ?? 1, dpi };

    [Theory]
    [InlineData(0, 720, "display.width")]
    [InlineData(-5, 720, "display.width")]
    [InlineData(1280, 100000, "display.height")]
    [InlineData(1280.5, 720, "display.width")]
    public async Task Bad_display_properties_get_400_naming_the_field(object width, object height, string field)
    {
        var client = await _factory.SignedInAsync();
        var desktop = (await client.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Single();
        var response = await client.PostAsJsonAsync("/api/sessions", new { desktopId = desktop.Id, display = Display(width, height) });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains(field, body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(11)]
    public async Task A_device_pixel_ratio_out_of_range_is_refused(double dpr)
    {
        var client = await _factory.SignedInAsync();
        var desktop = (await client.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Single();
        var response = await client.PostAsJsonAsync("/api/sessions", new { desktopId = desktop.Id, display = Display(1280, 720, dpr) });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("display.devicePixelRatio", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_on_a_desktop_that_is_not_running_is_a_conflict_saying_why()
    {
        var client = await _factory.SignedInAsync();
        var desktop = await DesktopApiTests.WaitForStateAsync(client, "Failed");
        var response = await client.PostAsJsonAsync("/api/sessions", new { desktopId = desktop.Id, display = Display(1280, 720) });
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("is failed: cannot open", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Another_users_desktop_is_not_found()
    {
        var client = await _factory.SignedInAsync();
        var response = await client.PostAsJsonAsync("/api/sessions", new { desktopId = Guid.NewGuid(), display = Display(1280, 720) });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
