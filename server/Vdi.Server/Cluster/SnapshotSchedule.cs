using Microsoft.Extensions.Options;
using Vdi.Server.Desktops;

namespace Vdi.Server.Cluster;

/// <summary>
/// Takes a live snapshot of each desktop this host runs every <c>Vdi:Cluster:SnapshotEvery</c>, one desktop at a time
/// (<see cref="SnapshotStore"/>). Runs only when a snapshot folder is configured.
/// </summary>
internal sealed class SnapshotSchedule(DesktopPool pool, SnapshotStore snapshots, IOptions<ClusterSettings> settings, ILogger<SnapshotSchedule> log)
    : BackgroundService
{
    private static readonly TimeSpan s_look = TimeSpan.FromSeconds(1);
    private readonly Dictionary<Guid, DateTimeOffset> _taken = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!snapshots.Enabled)
            return;
        using var timer = new PeriodicTimer(s_look);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var now = DateTimeOffset.UtcNow;
            var due = pool.Hosts.Where(h => h.State == DesktopState.Running && now - Last(h) >= settings.Value.SnapshotEvery).OrderBy(Last).FirstOrDefault();
            if (due is null)
                continue;
            _taken[due.Id] = now; // a failure waits a whole period too
            var clock = System.Diagnostics.Stopwatch.StartNew();
            string? error;
            try
            {
                error = await snapshots.TakeAsync(due).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.Net.Sockets.SocketException
                or Vdi.Vmm.Migration.MigrationException or ArgumentException)
            {
                error = e.Message; // the folder unwritable, the desktop stopping meanwhile: the next period tries again
            }
            if (error is null)
                ClusterLog.SnapshotTaken(log, due.Name, clock.Elapsed.TotalMilliseconds, snapshots.Latest(due.Id)?.PausedMs ?? 0);
            else
                ClusterLog.SnapshotFailed(log, due.Name, error);
        }
    }

    /// <summary>When the desktop's last snapshot was taken here, or its running start (the first comes a period after).</summary>
    private DateTimeOffset Last(DesktopHost host) => _taken.TryGetValue(host.Id, out var at) ? at : _taken[host.Id] = DateTimeOffset.UtcNow;
}
