using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Vdi.Protocol;

namespace Vdi.Server.Tests.Api;

public sealed class DesktopApiTests : IDisposable
{
    private readonly BrokerFactory _factory = new();

    [Fact]
    public async Task The_built_in_desktop_exists_and_a_desktop_that_cannot_start_shows_why()
    {
        var client = await _factory.SignedInAsync();
        var desktop = await WaitForStateAsync(client, "Failed");
        Assert.Equal("Built-in desktop", desktop.Name);
        Assert.Contains($"cannot open {BrokerFactory.MissingKvm}", desktop.StateReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creating_a_desktop_validates_every_field_and_names_it()
    {
        var client = await _factory.SignedInAsync();
        var response = await client.PostAsJsonAsync("/api/desktops", new { name = "", vcpus = 0, memoryMiB = 10, maxWidth = 100000 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("name", out _));
        Assert.True(errors.TryGetProperty("vcpus", out _));
        Assert.True(errors.TryGetProperty("memoryMiB", out _));
        Assert.True(errors.TryGetProperty("maxWidth", out _));
    }

    [Fact]
    public async Task Desktops_survive_a_server_restart()
    {
        var client = await _factory.SignedInAsync();
        var created = await client.PostAsJsonAsync("/api/desktops", new { name = "Design", vcpus = 2, memoryMiB = 1024 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        _factory.Dispose();

        using var restarted = new BrokerFactory(_factory.DataDirectory);
        var again = await restarted.SignedInAsync();
        var desktops = await again.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops");
        var design = Assert.Single(desktops!, d => d.Name == "Design");
        Assert.Equal((2, 1024), (design.Vcpus, design.MemoryMiB));
    }

    [Fact]
    public async Task Stop_marks_a_desktop_stopped_and_it_stays_stopped_across_a_restart()
    {
        var client = await _factory.SignedInAsync();
        var desktop = (await client.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Single();
        var stopped = await client.PostAsync($"/api/desktops/{desktop.Id}/stop", null);
        Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);
        Assert.Equal("Stopped", (await stopped.Content.ReadFromJsonAsync<DesktopSummary>())!.State);
        _factory.Dispose();

        using var restarted = new BrokerFactory(_factory.DataDirectory);
        var again = await restarted.SignedInAsync();
        await Task.Delay(200); // a desktop that should not run is never started
        Assert.Equal("Stopped", (await again.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{desktop.Id}"))!.State);
    }

    internal static async Task<DesktopSummary> WaitForStateAsync(HttpClient client, string state)
    {
        for (var i = 0; i < 100; i++)
        {
            var desktops = await client.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops");
            if (desktops!.FirstOrDefault(d => d.State == state) is { } found)
                return found;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no desktop reached {state}");
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
