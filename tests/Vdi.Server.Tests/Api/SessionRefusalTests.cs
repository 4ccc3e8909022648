using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Vdi.Server.Tests.Api;

/// <summary>Every refusal of <c>POST /api/sessions</c> is a problem body saying why, naming the field where there is one.</summary>
public sealed class SessionRefusalTests : IDisposable
{
    private readonly BrokerFactory _factory = new();

    private async Task<(HttpClient Client, Guid DesktopId)> DesktopAsync()
    {
        var client = await _factory.SignedInAsync();
        var desktop = (await client.GetFromJsonAsync<List<Vdi.Protocol.DesktopSummary>>("/api/desktops"))!.Single();
        return (client, desktop.Id);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    [Fact]
    public async Task A_physical_size_that_gives_a_density_the_device_refuses_is_a_400_naming_the_field()
    {
        var (client, desktopId) = await DesktopAsync();
        var response = await client.PostAsJsonAsync("/api/sessions", new
        {
            desktopId,
            display = new { width = 1280, height = 720, devicePixelRatio = 1, widthMm = 0.3, heightMm = 0.2 },
        });
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        var message = errors.GetProperty("display.widthMm")[0].GetString()!;
        Assert.Contains("dpi", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_desktop_is_a_404_problem_naming_it()
    {
        var (client, _) = await DesktopAsync();
        var unknown = Guid.NewGuid();
        var response = await client.PostAsJsonAsync("/api/sessions", new { desktopId = unknown, display = new { width = 1280, height = 720, devicePixelRatio = 1 } });
        var problem = await ProblemAsync(response, HttpStatusCode.NotFound);
        Assert.Contains(unknown.ToString(), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_body_is_a_400_problem_saying_the_body_is_missing()
    {
        var (client, _) = await DesktopAsync();
        var response = await client.PostAsync("/api/sessions", new StringContent("", Encoding.UTF8, "application/json"));
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("body is missing", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Implicit body", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_400_problem_saying_so()
    {
        var (client, _) = await DesktopAsync();
        var response = await client.PostAsync("/api/sessions", new StringContent("desktop please", Encoding.UTF8, "application/json"));
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("not JSON", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
