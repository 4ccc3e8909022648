using System.Net;
using System.Net.Http.Json;
using Vdi.Server.Tests.Desktops;

namespace Vdi.Server.Tests.Api;

/// <summary>
/// Behind a proxy: with <c>Vdi:Proxy:TrustedNetworks</c>, the sign-in throttle counts each browser's address from
/// <c>X-Forwarded-For</c>; without it, the header is ignored, so a client cannot pick its own address.
/// </summary>
public sealed class TrustedProxyTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_sign_in_throttle_sees_the_browsers_address_only_through_a_trusted_proxy(bool trusted)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        string[] settings = trusted ? ["--Vdi:SignIn:AttemptsPerAddress=2", "--Vdi:Proxy:TrustedNetworks:0=127.0.0.0/8"] : ["--Vdi:SignIn:AttemptsPerAddress=2"];
        var broker = await BrokerProcess.StartAsync(Path.Combine(folder, "data"), Path.Combine(folder, "hosts"), [.. settings, "--Vdi:Desktops:AutoStart=false"]);
        try
        {
            using var client = new HttpClient { BaseAddress = broker.BaseAddress };
            async Task<HttpStatusCode> SignInFrom(string address)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "api/auth/sign-in") { Content = JsonContent.Create(new { userName = "nobody", password = "wrong" }) };
                request.Headers.Add("X-Forwarded-For", address);
                return (await client.SendAsync(request)).StatusCode;
            }
            Assert.Equal(HttpStatusCode.Unauthorized, await SignInFrom("203.0.113.1"));
            Assert.Equal(HttpStatusCode.Unauthorized, await SignInFrom("203.0.113.1"));
            Assert.Equal(HttpStatusCode.TooManyRequests, await SignInFrom("203.0.113.1"));
            // Another browser behind the proxy has attempts of its own; a client that only claims another address has not.
            Assert.Equal(trusted ? HttpStatusCode.Unauthorized : HttpStatusCode.TooManyRequests, await SignInFrom("203.0.113.2"));
        }
        finally
        {
            await broker.DisposeAsync();
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }
}
