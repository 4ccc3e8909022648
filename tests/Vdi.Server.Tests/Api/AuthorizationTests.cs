using System.Net;
using System.Net.Http.Json;

namespace Vdi.Server.Tests.Api;

public sealed class AuthorizationTests : IDisposable
{
    private readonly BrokerFactory _factory = new();

    [Fact]
    public async Task Health_and_the_openapi_document_need_no_sign_in()
    {
        var client = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        var openApi = await client.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/sessions", openApi, StringComparison.Ordinal);
        Assert.Contains("/api/desktops", openApi, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/api/desktops")]
    [InlineData("GET", "/api/sessions")]
    [InlineData("POST", "/api/sessions")]
    [InlineData("GET", "/api/auth/me")]
    public async Task The_api_answers_401_without_a_sign_in_and_never_redirects(string method, string path)
    {
        var client = _factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? JsonContent.Create(new { }) : null });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_wrong_password_is_refused()
    {
        var client = _factory.CreateClient();
        var response = await client.PostAsJsonAsync("/api/auth/sign-in", new { userName = "admin", password = "not-it" });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task The_first_administrator_signs_in_with_the_configured_password()
    {
        var client = await _factory.SignedInAsync();
        var me = await client.GetFromJsonAsync<Vdi.Protocol.SignedInUser>("/api/auth/me");
        Assert.Equal("admin", me!.UserName);
        Assert.Contains("admin", me.Roles);
    }

    public void Dispose()
    {
        _factory.Dispose();
        _factory.DeleteData();
    }
}
