using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Vdi.Server.Storage;

namespace Vdi.Server.Desktops;

/// <summary>
/// The running desktops. On server start it makes sure the built-in desktop exists, takes back the host processes a
/// previous broker left running (<see cref="HostReattach"/>) and starts every other desktop marked to run, in the
/// background, so the server answers while VMs boot. On shutdown it stops them, or lets their hosts run on for the
/// next broker (<see cref="DesktopOptions.KeepRunningOnShutdown"/>).
/// </summary>
public sealed class DesktopPool(IServiceProvider services, TimeProvider time, Microsoft.Extensions.Options.IOptions<DesktopOptions> options, ILogger<DesktopPool> log) : IHostedService, IAsyncDisposable
{
    public const string BuiltInName = "Built-in desktop";

    private readonly ConcurrentDictionary<Guid, DesktopHost> _hosts = new();
    private Func<Guid, string, Task>? _endSessions;
    private Func<Guid, string, Task>? _moveSessions;
    private Action<DesktopHost, Vmm.Integrity.IntegrityAlert>? _integrityAlerted;
    private Action<DesktopHost, string, string>? _faultToleranceChanged;

    public IReadOnlyCollection<DesktopHost> Hosts => [.. _hosts.Values];

    public DesktopHost? Get(Guid id) => _hosts.GetValueOrDefault(id);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Stopping a desktop ends its sessions first (created here, not in the constructor: the broker needs the pool).
        _endSessions = services.GetRequiredService<Sessions.SessionBroker>().EndDesktopAsync;
        _moveSessions = services.GetRequiredService<Sessions.SessionBroker>().MoveDesktopAsync;
        _integrityAlerted = services.GetRequiredService<Integrity.IntegrityAudit>().Record;
        _faultToleranceChanged = services.GetRequiredService<FaultToleranceAudit>().Record;
        List<DesktopRecord> records;
        // In a cluster, a desktop runs where its grain places it: none is registered or started here at start
        // (Cluster.ClusterSupervisor asks for this host's), and host processes left by a previous broker are ended.
        var clustered = services.GetService<Microsoft.Extensions.Options.IOptions<Cluster.ClusterSettings>>()?.Value.Enabled == true;
        await using (var scope = services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
            if (!await db.Desktops.AnyAsync(cancellationToken))
            {
                db.Desktops.Add(new DesktopRecord { Id = Guid.NewGuid(), Name = BuiltInName, CreatedAt = time.GetUtcNow() });
                try
                {
                    await db.SaveChangesAsync(cancellationToken);
                }
                catch (DbUpdateException)
                {
                    // Another host sharing the database made it first (its name is unique); anything else fails here.
                    db.ChangeTracker.Clear();
                    if (!await db.Desktops.AnyAsync(d => d.Name == BuiltInName, cancellationToken))
                        throw;
                }
            }
            records = clustered ? [] : await db.Desktops.AsNoTracking().ToListAsync(cancellationToken);
        }
        // Hosts a previous broker left running: each desktop takes its own back or ends it, then starts if it should;
        // hosts of desktops no longer in the database are ended. In the background: a host that does not answer
        // costs its desktop a few seconds, not the server's start.
        var known = records.Select(r => r.Id).ToHashSet();
        var unknown = HostReattach.FindUnknown(options.Value, known);
        _ = Task.Run(() => HostReattach.EndUnknownAsync(unknown, log), CancellationToken.None);
        foreach (var record in records)
        {
            var host = Add(record);
            _ = Task.Run(async () =>
            {
                if (await HostReattach.ReattachOrEndAsync(host, record.ShouldRun, options.Value, log).ConfigureAwait(false))
                    return;
                if (record.ShouldRun && options.Value.AutoStart)
                    await host.StartAsync().ConfigureAwait(false);
            }, CancellationToken.None);
        }
    }

    /// <summary>Registers a persisted desktop (not started).</summary>
    public DesktopHost Add(DesktopRecord record) =>
        _hosts.GetOrAdd(record.Id, _ => new DesktopHost(record.Id, record.Name, record.Vcpus, record.MemoryMiB, record.MaxWidth, record.MaxHeight, options.Value, log)
        {
            EndSessions = (id, why) => _endSessions?.Invoke(id, why) ?? Task.CompletedTask,
            MoveSessions = (id, why) => _moveSessions?.Invoke(id, why) ?? Task.CompletedTask,
            IntegrityAlerted = (host, alert) => _integrityAlerted?.Invoke(host, alert),
            // A migrated desktop's viewers follow its new machine.
            Repoint = (from, to) => services.GetRequiredService<Display.DesktopStreams>().Repoint(from, to),
            Integrity = Integrity.IntegrityNames.Parse(record.Integrity),
            FaultTolerant = record.FaultTolerant,
            FaultToleranceChanged = (host, kind, detail) => _faultToleranceChanged?.Invoke(host, kind, detail),
        });

    public async Task RemoveAsync(Guid id)
    {
        if (_hosts.TryRemove(id, out var host))
            await host.DisposeAsync().ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Either the desktops power off with the broker, or their hosts keep them running for the next broker.
        var o = options.Value;
        var letGo = o.KeepRunningOnShutdown && o.Isolation == DesktopIsolation.Process && o.ReattachSeconds > 0;
        await Task.WhenAll(_hosts.Values.Select(h => letGo
            ? h.DetachAsync("The server is restarting; open the desktop again in a moment.")
            : h.StopAsync("The server is shutting down."))).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts.Values)
            await host.DisposeAsync().ConfigureAwait(false);
        _hosts.Clear();
    }
}
