namespace Vdi.Server.Cluster;

/// <summary>One host, reached through the cluster by its name: what it runs.</summary>
[Alias("Vdi.Host")]
public interface IHostGrain : IGrainWithStringKey
{
    [Alias("GetLoad")]
    Task<HostLoadReport> GetLoadAsync();
}

/// <summary>Lives on the host it names (<see cref="HostPlacement"/>) and answers for it.</summary>
[HostPlacement]
internal sealed class HostGrain(HostLoad load) : Grain, IHostGrain
{
    public Task<HostLoadReport> GetLoadAsync() => Task.FromResult(load.Measure());
}
