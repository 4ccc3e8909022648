using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Vdi.Server.Desktops;
using Vdi.Server.Storage;
using Vdi.Vmm.Integrity;

namespace Vdi.Server.Integrity;

/// <summary>
/// Writes desktops' integrity alerts to the audit log, one entry per alert up to a bound per desktop and window
/// (<see cref="IntegrityAuditOptions"/>); beyond it, the window's alerts are coalesced into one entry with their
/// count and kinds, which also counts the alerts over the desktops' rate limit and any this writer's queue had to drop.
/// <see cref="Record"/> runs on the thread that raised the alert (a vCPU's, for a desktop in process): it only queues.
/// </summary>
public sealed partial class IntegrityAudit(IServiceScopeFactory scopes, AuditLog audit, TimeProvider time, IOptions<IntegrityAuditOptions> options, ILogger<IntegrityAudit> log) : BackgroundService
{
    public const string AlertAction = "integrity.alert", CoalescedAction = "integrity.alerts-coalesced";
    private const int QueueCapacity = 4096;

    private readonly Channel<(DesktopHost Host, IntegrityAlert Alert)> _queue = Channel.CreateBounded<(DesktopHost, IntegrityAlert)>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly ConcurrentDictionary<Guid, long> _dropped = new(); // per desktop: alerts the full queue refused
    private readonly Dictionary<Guid, Window> _windows = []; // the writer's alone
    private readonly Dictionary<Guid, long> _suppressedSeen = []; // the writer's alone: each desktop's count when last audited

    public void Record(DesktopHost host, IntegrityAlert alert)
    {
        if (!_queue.Writer.TryWrite((host, alert)))
            _dropped.AddOrUpdate(host.Id, 1, (_, n) => n + 1);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        var ticking = tick.WaitForNextTickAsync(stoppingToken).AsTask();
        var reading = _queue.Reader.WaitToReadAsync(stoppingToken).AsTask();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Either more alerts or the next second (windows to close); one wait of each kind at a time.
                if (await Task.WhenAny(reading, ticking).ConfigureAwait(false) == ticking)
                {
                    await ticking.ConfigureAwait(false);
                    ticking = tick.WaitForNextTickAsync(stoppingToken).AsTask();
                }
                else
                {
                    await reading.ConfigureAwait(false);
                    reading = _queue.Reader.WaitToReadAsync(stoppingToken).AsTask();
                }
                await WriteAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // A database hiccup must not end the audit of every later alert.
            catch (Exception e)
#pragma warning restore CA1031
            {
                IntegrityLog.AuditFailed(log, e.Message);
            }
        }
    }

    /// <summary>Takes every queued alert and every ended window, and saves their entries in one go.</summary>
    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        if (!_queue.Reader.TryPeek(out _) && _windows.Count == 0)
            return;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var now = time.GetUtcNow();
        var window = TimeSpan.FromSeconds(Math.Max(1, options.Value.WindowSeconds));
        var written = 0;
        while (_queue.Reader.TryRead(out var item))
        {
            var w = Current(item.Host, now, window);
            if (w.Written < options.Value.EntriesPerWindow)
            {
                w.Written++;
                audit.Add(db, null, AlertAction, $"{Name(item.Host)}: {item.Alert}");
            }
            else
            {
                w.Coalesced++;
                w.Kinds[item.Alert.Kind] = w.Kinds.GetValueOrDefault(item.Alert.Kind) + 1;
            }
            written++;
        }
        foreach (var (id, w) in _windows.ToList())
        {
            if (now - w.Start < window)
                continue;
            if (Close(db, w, window))
                written++;
            _windows.Remove(id);
        }
        if (written > 0)
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private Window Current(DesktopHost host, DateTimeOffset now, TimeSpan length)
    {
        if (_windows.TryGetValue(host.Id, out var w) && now - w.Start < length)
            return w;
        // A window that ended but was not yet closed is closed by the next pass; a new one starts now.
        w = new Window(host, now);
        _windows[host.Id] = w;
        return w;
    }

    /// <summary>The coalesced entry of a window that ended, when it had more than its entries; true when written.</summary>
    private bool Close(VdiDbContext db, Window w, TimeSpan length)
    {
        // The desktop's count since it started: a smaller one than last seen means it started again.
        var total = w.Host.Desktop?.Integrity.SuppressedAlerts ?? 0;
        var seen = _suppressedSeen.GetValueOrDefault(w.Host.Id);
        var suppressed = total >= seen ? total - seen : total;
        _suppressedSeen[w.Host.Id] = total;
        var dropped = _dropped.TryRemove(w.Host.Id, out var d) ? d : 0;
        var more = w.Coalesced + suppressed + dropped;
        if (more == 0)
            return false;
        var kinds = string.Join(", ", w.Kinds.OrderByDescending(k => k.Value).Select(k => $"{IntegrityNames.Name(k.Key)} ×{k.Value}"));
        audit.Add(db, null, CoalescedAction,
            $"{Name(w.Host)}: {more} more integrity alert(s) in {length.TotalSeconds:0} s from {w.Start:u}, not listed one by one" +
            $"{(kinds.Length > 0 ? $" ({kinds})" : "")}{(suppressed > 0 ? $"; {suppressed} over the desktop's rate limit" : "")}" +
            $"{(dropped > 0 ? $"; {dropped} dropped by a full audit queue" : "")}");
        return true;
    }

    private static string Name(DesktopHost host) => $"{host.Name} ({host.Id})";

    private sealed class Window(DesktopHost host, DateTimeOffset start)
    {
        public DesktopHost Host { get; } = host;

        public DateTimeOffset Start { get; } = start;

        public int Written { get; set; }

        public long Coalesced { get; set; }

        public Dictionary<IntegrityAlertKind, long> Kinds { get; } = [];
    }
}

internal static partial class IntegrityLog
{
    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Integrity alerts could not be written to the audit log: {Reason}")]
    public static partial void AuditFailed(ILogger logger, string reason);
}
