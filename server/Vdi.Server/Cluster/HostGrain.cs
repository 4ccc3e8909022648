using Vdi.Protocol;

namespace Vdi.Server.Cluster;

/// <summary>One host, reached through the cluster by its name: what it runs, and running or stopping a desktop there.</summary>
[Alias("Vdi.Host")]
public interface IHostGrain : IGrainWithStringKey
{
    [Alias("GetLoad")]
    Task<HostLoadReport> GetLoadAsync();

    /// <summary>
    /// Runs a desktop placed on this host (its record must name it); with <paramref name="lost"/>, from its latest
    /// snapshot where one exists (the desktop was lost with its host).
    /// </summary>
    [Alias("RunDesktop")]
    Task RunDesktopAsync(Guid id, bool lost = false);

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

    /// <summary>A draining host takes no new desktops (placement passes it by).</summary>
    [Alias("SetDraining")]
    Task SetDrainingAsync(bool draining);

    /// <summary>Prepares this host to receive a desktop moving here; the ticket tells its source where and how to send it.</summary>
    [Alias("PrepareArrival")]
    Task<ArrivalTicket> PrepareArrivalAsync(Guid id);

    /// <summary>Waits for a prepared arrival to run here: null when it does, else why not.</summary>
    [Alias("AwaitArrival"), ResponseTimeout("00:02:00")]
    Task<string?> AwaitArrivalAsync(Guid id);

    /// <summary>Ends an arrival: kept (the desktop's record names this host now) or discarded.</summary>
    [Alias("EndArrival")]
    Task EndArrivalAsync(Guid id, bool keep);

    /// <summary>Sends a desktop this host runs to an arrival elsewhere; on success it stays here, paused, until <see cref="FinishDepartureAsync"/>.</summary>
    [Alias("Depart"), ResponseTimeout("00:10:00")]
    Task<MigrationStatus> DepartAsync(Guid id, ArrivalTicket ticket);

    /// <summary>After a departure: the desktop moved to <paramref name="movedTo"/> (its viewers follow), or, null, it restarts here.</summary>
    [Alias("FinishDeparture")]
    Task FinishDepartureAsync(Guid id, string? movedTo);
}

/// <summary>Where and how a desktop's source sends it to the host receiving it (<see cref="MigrationGateway"/>).</summary>
[GenerateSerializer, Immutable, Alias("Vdi.ArrivalTicket")]
public sealed record ArrivalTicket([property: Id(0)] string Address, [property: Id(1)] int Port, [property: Id(2)] byte[] Token);

/// <summary>Lives on the host it names (<see cref="HostPlacement"/>) and answers for it; it keeps no state, so calls interleave.</summary>
[HostPlacement, Orleans.Concurrency.Reentrant]
internal sealed class HostGrain(HostLoad load, ClusterDesktops desktops, HostAddress address) : Grain, IHostGrain
{
    public Task<Uri> GetHttpUrlAsync() => Task.FromResult(address.Url);

    public Task<HostLoadReport> GetLoadAsync() => Task.FromResult(load.Measure());

    public Task RunDesktopAsync(Guid id, bool lost = false) => desktops.RunAsync(id, lost);

    public Task StopDesktopAsync(Guid id) => desktops.StopAsync(id);

    public Task RestartDesktopAsync(Guid id) => desktops.RestartAsync(id);

    public Task<DesktopSummary[]> GetDesktopsAsync() => desktops.SummariesAsync();

    public Task SetDrainingAsync(bool draining)
    {
        load.Draining = draining;
        return Task.CompletedTask;
    }

    public Task<ArrivalTicket> PrepareArrivalAsync(Guid id) => desktops.PrepareArrivalAsync(id);

    public Task<string?> AwaitArrivalAsync(Guid id) => desktops.AwaitArrivalAsync(id);

    public Task EndArrivalAsync(Guid id, bool keep) => desktops.EndArrivalAsync(id, keep);

    public Task<MigrationStatus> DepartAsync(Guid id, ArrivalTicket ticket) => desktops.DepartAsync(id, ticket);

    public Task FinishDepartureAsync(Guid id, string? movedTo) => desktops.FinishDepartureAsync(id, movedTo);
}
