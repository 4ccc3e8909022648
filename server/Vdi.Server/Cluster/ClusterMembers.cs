namespace Vdi.Server.Cluster;

/// <summary>The questions every part of the cluster asks of it: which hosts are active, and what one host runs.</summary>
internal static class ClusterMembers
{
    private static readonly TimeSpan s_askTimeout = TimeSpan.FromSeconds(3);

    /// <summary>The names of the hosts Orleans' membership has as Active now.</summary>
    public static HashSet<string> ActiveHostNames(this IClusterMembershipService membership) =>
        [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.Name)];

    /// <summary>A host's load, or null when it did not answer within 3 s (not a candidate, or listed without it).</summary>
    public static Task<HostLoadReport?> AskLoadAsync(this IGrainFactory grains, string host) => AskAsync(grains, host, h => h.GetLoadAsync());

    /// <summary>The desktops placed on a host as it shows them, or null when it did not answer within 3 s.</summary>
    public static Task<Protocol.DesktopSummary[]?> AskDesktopsAsync(this IGrainFactory grains, string host) => AskAsync(grains, host, h => h.GetDesktopsAsync());

    private static async Task<T?> AskAsync<T>(IGrainFactory grains, string host, Func<IHostGrain, Task<T>> question) where T : class
    {
        try
        {
            return await question(grains.GetGrain<IHostGrain>(host)).WaitAsync(s_askTimeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null; // a remote call to a host that may be dying: any failure means no answer
        }
    }
}
