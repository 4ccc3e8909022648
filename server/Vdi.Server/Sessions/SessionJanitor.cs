using Microsoft.Extensions.Options;
using Vdi.Protocol;
using Vdi.Server.Storage;

namespace Vdi.Server.Sessions;

/// <summary>
/// Ends session records nobody else will end. At start, before requests are served, every record still live was
/// left by the previous process: it ends with <c>server-restarted</c> (in a cluster, those of the desktops placed on this
/// host: the others belong to hosts that go on). Then, every
/// <see cref="SessionBrokerOptions.ExpirySweepInterval"/>, unconnected sessions whose token expired end with <c>expired</c>.
/// </summary>
public sealed class SessionJanitor(SessionRecords records, IOptions<SessionBrokerOptions> options, IOptions<Cluster.ClusterSettings> cluster, ILogger<SessionJanitor> log) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var ended = cluster.Value.Enabled
            ? await records.EndAllLiveOnHostAsync(cluster.Value.ResolveHostName(), SessionEndReasons.ServerRestarted).ConfigureAwait(false)
            : await records.EndAllLiveAsync(SessionEndReasons.ServerRestarted).ConfigureAwait(false);
        if (ended > 0)
            SessionLog.EndedAtStart(log, ended);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ExpirySweepInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await records.ExpireUnconnectedAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
            {
                SessionLog.SweepFailed(log, e.Message); // the next sweep tries again
            }
        }
    }
}

internal static partial class SessionLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Ended {Count} session records left live by the previous server process")]
    public static partial void EndedAtStart(ILogger logger, int count);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Session expiry sweep failed: {Reason}")]
    public static partial void SweepFailed(ILogger logger, string reason);
}
