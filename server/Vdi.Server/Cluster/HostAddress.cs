using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Vdi.Server.Cluster;

/// <summary>
/// Where the other hosts send this host the requests it serves (<see cref="DesktopForwarding"/>):
/// <c>Vdi:Cluster:HttpUrl</c>, else the first address the server listens on with its host replaced by the cluster's
/// advertised address where it listens on every address (or on a name).
/// </summary>
public sealed class HostAddress(IServer server, IOptions<ClusterSettings> settings)
{
    private Uri? _url;

    public Uri Url => _url ??= Resolve();

    private Uri Resolve()
    {
        if (settings.Value.HttpUrl is { Length: > 0 } configured)
            return new Uri(configured.TrimEnd('/') + "/");
        var listening = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("the server listens on no address yet; set Vdi:Cluster:HttpUrl");
        var bound = new Uri(listening.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
        var host = System.Net.IPAddress.TryParse(bound.Host, out var ip) && !ip.Equals(System.Net.IPAddress.Any) && !ip.Equals(System.Net.IPAddress.IPv6Any)
            ? bound.Host
            : settings.Value.AdvertisedAddress ?? ClusterHosting.ResolveAddress(settings.Value).ToString();
        return new UriBuilder(bound.Scheme, host, bound.Port).Uri;
    }
}
