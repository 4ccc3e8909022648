using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Vdi.Server.Api;

/// <summary>
/// Behind a reverse proxy or load balancer (docker/compose.yaml's nginx), the browser's address and scheme come from
/// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> — but only on requests that arrive from a network listed in
/// <c>Vdi:Proxy:TrustedNetworks</c> (CIDR, e.g. <c>10.0.0.0/8</c>), and only the last hop's entry. The sign-in throttle and
/// the audit then see the browser's address, not the proxy's. Unset (the default), the headers are ignored: any client
/// could send them.
/// </summary>
public static class TrustedProxies
{
    public static void Use(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var networks = app.Configuration.GetSection("Vdi:Proxy:TrustedNetworks").Get<string[]>() ?? [];
        if (networks.Length == 0)
            return;
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto, ForwardLimit = 1 };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var network in networks)
        {
            options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network, out var parsed) ? parsed
                : throw new Storage.StorageException($"Vdi:Proxy:TrustedNetworks: '{network}' is not a network; write it as an address and a prefix length, e.g. 10.0.0.0/8"));
        }
        app.UseForwardedHeaders(options);
    }
}
