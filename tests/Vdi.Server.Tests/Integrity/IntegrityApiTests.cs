using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Vdi.Protocol;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Integrity;

/// <summary>The integrity setting and report through the API: who may see and set them, and what bad input gets.</summary>
public sealed class IntegrityApiTests : IDisposable
{
    private const string Password = "User-Pa55word!";
    private readonly BrokerFactory _factory = new(autoStart: false);

    [Fact]
    public async Task The_setting_is_stored_with_the_desktop_and_changes_apply_at_its_start_when_it_is_not_running()
    {
        var admin = await _factory.SignedInAsync();
        var created = await admin.PostAsJsonAsync("/api/desktops", new { name = "Audited", vcpus = 1, memoryMiB = 512, integrity = "Audit" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var desktop = (await created.Content.ReadFromJsonAsync<DesktopSummary>())!;
        Assert.Equal(IntegrityLevels.Audit, desktop.Integrity);
        Assert.Equal(0, desktop.IntegrityAlerts);

        var report = (await admin.GetFromJsonAsync<IntegrityReport>($"/api/desktops/{desktop.Id}/integrity"))!;
        Assert.Equal((IntegrityLevels.Audit, null, false), (report.Level, report.RunningLevel, report.DriverRegistered));
        Assert.Empty(report.Protected);
        Assert.Empty(report.Alerts);

        var set = await admin.PutAsJsonAsync($"/api/desktops/{desktop.Id}/integrity", new { level = "off" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var result = (await set.Content.ReadFromJsonAsync<IntegritySettingResult>())!;
        Assert.Equal((IntegrityLevels.Off, "now"), (result.Level, result.Applies));
        Assert.Contains("when it starts", result.Message, StringComparison.Ordinal);
        Assert.Equal(IntegrityLevels.Off, (await admin.GetFromJsonAsync<DesktopSummary>($"/api/desktops/{desktop.Id}"))!.Integrity);
        var listed = (await admin.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!;
        Assert.Equal(IntegrityLevels.Enforce, listed.Single(d => d.Name == "Built-in desktop").Integrity); // the default
    }

    [Fact]
    public async Task An_unknown_level_is_a_400_naming_the_field_and_the_value()
    {
        var admin = await _factory.SignedInAsync();
        var created = await admin.PostAsJsonAsync("/api/desktops", new { name = "Bad", vcpus = 1, memoryMiB = 512, integrity = "paranoid" });
        var problem = await ProblemAsync(created, HttpStatusCode.BadRequest);
        Assert.Equal("integrity must be off, audit or enforce, not 'paranoid'", problem.GetProperty("errors").GetProperty("integrity")[0].GetString());

        var id = (await admin.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))![0].Id;
        problem = await ProblemAsync(await admin.PutAsJsonAsync($"/api/desktops/{id}/integrity", new { level = "maybe" }), HttpStatusCode.BadRequest);
        Assert.Equal("level must be off, audit or enforce, not 'maybe'", problem.GetProperty("errors").GetProperty("level")[0].GetString());
        problem = await ProblemAsync(await admin.PutAsJsonAsync($"/api/desktops/{id}/integrity", new { }), HttpStatusCode.BadRequest);
        Assert.Equal("level must be off, audit or enforce", problem.GetProperty("errors").GetProperty("level")[0].GetString());
        problem = await ProblemAsync(await admin.PutAsJsonAsync($"/api/desktops/{id}/integrity", new { level = 2 }), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("level", out _));
        Assert.Equal(IntegrityLevels.Enforce, (await admin.GetFromJsonAsync<IntegrityReport>($"/api/desktops/{id}/integrity"))!.Level); // nothing changed
    }

    [Fact]
    public async Task Callers_who_may_not_see_a_desktop_get_the_404_problem_and_only_administrators_set_the_level()
    {
        var admin = await _factory.SignedInAsync();
        var unknown = await ProblemAsync(await admin.GetAsync($"/api/desktops/{Guid.NewGuid()}/integrity"), HttpStatusCode.NotFound);
        Assert.Contains("was not found", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAsync(await admin.PutAsJsonAsync($"/api/desktops/{Guid.NewGuid()}/integrity", new { level = "audit" }), HttpStatusCode.NotFound);

        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/users", new { userName = "alice", password = Password })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/users", new { userName = "bob", password = Password })).StatusCode);
        var created = await admin.PostAsJsonAsync("/api/desktops", new { name = "Alice's", vcpus = 1, memoryMiB = 512, ownerUserName = "alice" });
        var desktop = (await created.Content.ReadFromJsonAsync<DesktopSummary>())!;
        var alice = await _factory.SignedInAsync("alice", Password);
        var bob = await _factory.SignedInAsync("bob", Password);

        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/api/desktops/{desktop.Id}/integrity")).StatusCode);
        await ProblemAsync(await bob.GetAsync($"/api/desktops/{desktop.Id}/integrity"), HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.PutAsJsonAsync($"/api/desktops/{desktop.Id}/integrity", new { level = "off" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _factory.CreateClient().GetAsync($"/api/desktops/{desktop.Id}/integrity")).StatusCode);
        Assert.Equal(IntegrityLevels.Enforce, (await admin.GetFromJsonAsync<IntegrityReport>($"/api/desktops/{desktop.Id}/integrity"))!.Level);
    }

    internal static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
