using System.Net;
using Orleans.Serialization;
using System.Net.Sockets;
using Orleans.Configuration;
using Vdi.Server.Storage;

namespace Vdi.Server.Cluster;

/// <summary>
/// Makes this broker a host of an Orleans cluster when <c>Vdi:Cluster:Enabled</c>: membership and failure detection
/// are Orleans', its membership table is in the shared PostgreSQL database (ADO.NET clustering; the tables come with
/// the database's migrations, <see cref="OrleansMembershipSchema"/>). Without it, no silo runs and the broker is one
/// host on its own.
/// </summary>
public static class ClusterHosting
{
    public static void Add(WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection("Vdi:Cluster").Get<ClusterSettings>() ?? new ClusterSettings();
        builder.Services.Configure<ClusterSettings>(builder.Configuration.GetSection("Vdi:Cluster"));
        builder.Services.Configure<HostLimits>(builder.Configuration.GetSection("Vdi:Host"));
        builder.Services.AddSingleton<HostLoad>();
        if (!settings.Enabled)
        {
            builder.Services.AddSingleton<IHostRoster, LocalHostRoster>();
            builder.Services.AddSingleton<IDesktopDirectory, LocalDesktopDirectory>();
            builder.Services.AddSingleton<IHostDrain, LocalHostDrain>();
            return;
        }
        var storage = builder.Configuration.GetSection("Vdi:Storage").Get<StorageOptions>() ?? new StorageOptions();
        if (!storage.IsPostgres)
            throw new StorageException("Vdi:Cluster:Enabled needs the database the hosts share: set Vdi:Storage:Provider=Postgres and Vdi:Storage:ConnectionString");
        var connectionString = storage.ResolveConnectionString();
        var address = ResolveAddress(settings);
        builder.Services.AddSingleton<IHostRoster, ClusterHostRoster>();
        builder.Services.AddSingleton<IDesktopDirectory, ClusterDesktopDirectory>();
        builder.Services.AddSingleton<ClusterDesktops>();
        builder.Services.AddSingleton<IHostDrain, ClusterHostDrain>();
        builder.Services.AddSingleton<MigrationGateway>();
        builder.Services.AddSingleton<SnapshotStore>();
        builder.Services.AddHostedService<SnapshotSchedule>();
        builder.Services.AddHostedService(s => s.GetRequiredService<MigrationGateway>());
        builder.Services.AddSingleton<HostAddress>();
        builder.Services.AddHttpForwarder();
        builder.Services.AddSingleton<DesktopForwarding>();
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, "vdi"));
            silo.Configure<SiloOptions>(o => o.SiloName = settings.ResolveHostName());
            silo.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = ("Npgsql", connectionString));
            // No gateway: browsers and programs reach hosts over HTTP, never as Orleans clients.
            silo.ConfigureEndpoints(address, settings.SiloPort, gatewayPort: 0, listenOnAnyHostAddress: true);
            silo.Configure<ClusterMembershipOptions>(o => (o.ProbeTimeout, o.NumMissedProbesLimit) = (settings.ProbeTimeout, settings.MissedProbesLimit));
            silo.AddPlacementDirector<HostPlacement, HostPlacementDirector>();
            // The API's own types (desktop summaries) cross the cluster as JSON.
            silo.Services.AddSerializer(s => s.AddJsonSerializer(isSupported: t => t.Namespace == typeof(Protocol.DesktopSummary).Namespace));
        });
        // After the silo (hosted services start in order): it places and restarts desktops through the cluster.
        builder.Services.AddHostedService<ClusterSupervisor>();
    }

    internal static IPAddress ResolveAddress(ClusterSettings settings)
    {
        if (settings.AdvertisedAddress is { Length: > 0 } configured)
        {
            return IPAddress.TryParse(configured, out var parsed) ? parsed
                : throw new StorageException($"Vdi:Cluster:AdvertisedAddress '{configured}' is not an IP address");
        }
        var addresses = Dns.GetHostAddresses(Dns.GetHostName());
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? IPAddress.Loopback;
    }
}
