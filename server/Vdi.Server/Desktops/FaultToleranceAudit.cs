using System.Threading.Channels;
using Vdi.Server.Storage;

namespace Vdi.Server.Desktops;

/// <summary>
/// Writes fault-tolerant desktops' events to the audit log (<c>fault-tolerance.protected</c>, <c>.resynchronised</c>,
/// <c>.secondary-lost</c>, <c>.failed-over</c>, <c>.unprotected</c>), in the order they happened. <see cref="Record"/> runs
/// on the thread that raised the event: it only queues (a full queue drops, and says so in the log).
/// </summary>
public sealed class FaultToleranceAudit(IServiceScopeFactory scopes, AuditLog audit, ILogger<FaultToleranceAudit> log) : BackgroundService
{
    public const string ActionPrefix = "fault-tolerance.";
    private readonly Channel<(string Name, Guid Id, string Kind, string Detail)> _queue =
        Channel.CreateBounded<(string, Guid, string, string)>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Record(DesktopHost host, string kind, string detail)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (!_queue.Writer.TryWrite((host.Name, host.Id, kind, detail)))
            DesktopLog.FaultTolerance(log, host.Name, "audit queue full, event not audited", $"{kind}: {detail}");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
                    while (_queue.Reader.TryRead(out var e))
                        audit.Add(db, null, ActionPrefix + e.Kind, $"{e.Name} ({e.Id}): {e.Detail}");
                    await db.SaveChangesAsync(stoppingToken).ConfigureAwait(false);
                }
#pragma warning disable CA1031 // A database hiccup must not end the audit of every later event.
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    DesktopLog.FaultTolerance(log, "(all)", "events not audited", e.Message);
                }
#pragma warning restore CA1031
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
