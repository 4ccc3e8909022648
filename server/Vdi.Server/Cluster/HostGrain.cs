using Vdi.Protocol;

namespace Vdi.Server.Cluster;

/// <summary>One host, reached through the cluster by its name: what it runs, and running or stopping a desktop there.</summary>
[Alias("Vdi.Host")]
public interface IHostGrain : IGrainWithStringKey
{
    [Alias("GetLoad")]
    Task<HostLoadReport> GetLoadAsync();

    /// <summary>Runs a desktop placed on this host (its record must name it).</summary>
    [Alias("RunDesktop")]
    Task RunDesktopAsync(Guid id);

    [Alias("StopDesktop")]
    Task StopDesktopAsync(Guid id);

    [Alias("RestartDesktop")]
    Task RestartDesktopAsync(Guid id);

    /// <summary>Where the other hosts forward requests for the desktops it runs.</summary>
    [Alias("GetHttpUrl")]
    Task<Uri> GetHttpUrlAsync();

    /// <summary>The desktops placed on this host, as the API shows them.</summary>
    [Alias("GetDesktops")]
    Task<DesktopSummary[]> GetDesktopsAsync();
}

/// <summary>Lives on the host it names (<see cref="HostPlacement"/>) and answers for it; it keeps no state, so calls interleave.</summary>
[HostPlacement, Orleans.Concurrency.Reentrant]
internal sealed class HostGrain(HostLoad load, ClusterDesktops desktops, HostAddress address) : Grain, IHostGrain
{
    public Task<Uri> GetHttpUrlAsync() => Task.FromResult(address.Url);

    public Task<HostLoadReport> GetLoadAsync() => Task.FromResult(load.Measure());

    public Task RunDesktopAsync(Guid id) => desktops.RunAsync(id);

    public Task StopDesktopAsync(Guid id) => desktops.StopAsync(id);

    public Task RestartDesktopAsync(Guid id) => desktops.RestartAsync(id);

    public Task<DesktopSummary[]> GetDesktopsAsync() => desktops.SummariesAsync();
}
