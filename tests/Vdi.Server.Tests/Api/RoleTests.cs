using System.Net;
using System.Net.Http.Json;
using Vdi.Protocol;

namespace Vdi.Server.Tests.Api;

public sealed class RoleTests : IDisposable
{
    private const string Password = "User-Pa55word!";
    private readonly BrokerFactory _factory = new(autoStart: false);

    private async Task<HttpClient> UserAsync(HttpClient admin, string name)
    {
        var created = await admin.PostAsJsonAsync("/api/users", new { userName = name, password = Password });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return await _factory.SignedInAsync(name, Password);
    }

    [Fact]
    public async Task A_user_sees_only_their_desktops_and_gets_404_for_anyone_elses()
    {
        var admin = await _factory.SignedInAsync();
        var alice = await UserAsync(admin, "alice");
        var bob = await UserAsync(admin, "bob");
        var created = await admin.PostAsJsonAsync("/api/desktops", new { name = "Alice's", vcpus = 1, memoryMiB = 512, ownerUserName = "alice" });
        var desktop = (await created.Content.ReadFromJsonAsync<DesktopSummary>())!;

        Assert.Equal(["Alice's"], (await alice.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!.Select(d => d.Name));
        Assert.Empty((await bob.GetFromJsonAsync<List<DesktopSummary>>("/api/desktops"))!);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/api/desktops/{desktop.Id}")).StatusCode);
        var session = await bob.PostAsJsonAsync("/api/sessions", new { desktopId = desktop.Id, display = new { width = 1280, height = 720, devicePixelRatio = 1 } });
        Assert.Equal(HttpStatusCode.NotFound, session.StatusCode);
    }

    [Theory]
    [InlineData("POST", "/api/desktops")]
    [InlineData("GET", "/api/users")]
    [InlineData("POST", "/api/users")]
    public async Task Administrative_endpoints_are_forbidden_to_users(string method, string path)
    {
        var admin = await _factory.SignedInAsync();
        var carol = await UserAsync(admin, "carol");
        var response = await carol.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? JsonContent.Create(new { name = "x", vcpus = 1, memoryMiB = 512 }) : null });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task A_weak_password_is_refused_with_the_reason()
    {
        var admin = await _factory.SignedInAsync();
        var response = await admin.PostAsJsonAsync("/api/users", new { userName = "dave", password = "short" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("password", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
