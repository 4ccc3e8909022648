namespace Vdi.Server.Cluster;

/// <summary>
/// Several hosts as one broker: an Orleans cluster whose membership lives in the shared PostgreSQL database. Bound from
/// "Vdi:Cluster". Off by default: one host runs without a cluster (nothing to set up, no port opened).
/// </summary>
public sealed class ClusterSettings
{
    /// <summary>Join the cluster; needs <c>Vdi:Storage:Provider=Postgres</c>.</summary>
    public bool Enabled { get; set; }

    /// <summary>The cluster's name: hosts with the same database and name form one cluster.</summary>
    public string ClusterId { get; set; } = "vdi";

    /// <summary>This host's name in the cluster, unique in it; the machine's name by default.</summary>
    public string? HostName { get; set; }

    /// <summary>The IP address the other hosts reach this one at; by default the first address the machine's name resolves to.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// The URL the other hosts forward this host's desktops' requests to (e.g. http://10.0.0.11:5080); by default the
    /// address it listens on, reached at <see cref="AdvertisedAddress"/>.
    /// </summary>
    public string? HttpUrl { get; set; }

    /// <summary>The port the hosts talk to each other on (Orleans' silo port).</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>
    /// The TCP port a drained host's desktops arrive on (<see cref="MigrationGateway"/>): the other hosts must reach it at
    /// <see cref="AdvertisedAddress"/>. 0: a free port chosen at start.
    /// </summary>
    public int MigrationPort { get; set; } = 11112;

    /// <summary>
    /// A folder every host reaches (a shared mount) for the desktops' live snapshots (<see cref="SnapshotStore"/>): a
    /// desktop whose host dies starts on another host from its latest one. Unset: no snapshots, such a desktop boots afresh.
    /// </summary>
    public string? SnapshotDirectory { get; set; }

    /// <summary>How often each running desktop's snapshot is taken (each pauses its guest for the migration's downtime).</summary>
    public TimeSpan SnapshotEvery { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a host waits for another's answer to a liveness probe.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Probes a host may miss before the one probing it suspects it; two suspicions declare it dead.</summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>How often hosts look for desktops to run, give up or place again (<see cref="ClusterSupervisor"/>).</summary>
    public TimeSpan SuperviseEvery { get; set; } = TimeSpan.FromSeconds(2);

    public string ResolveHostName() => HostName is { Length: > 0 } name ? name : Environment.MachineName;
}
