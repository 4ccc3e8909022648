using Microsoft.Extensions.Logging.Abstractions;
using Vdi.Protocol;
using Vdi.Vmm.Host;

namespace Vdi.Server.Display;

/// <summary>
/// The one <see cref="DesktopStream"/> of each running machine that has viewers: made when its first viewer joins,
/// disposed when its last one leaves — which every viewer does when the desktop stops, since
/// its sessions end. A controlling session and any number of shadow sessions share it.
/// </summary>
public sealed class DesktopStreams(ILoggerFactory? loggers = null, DesktopStreamOptions? options = null)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<IDesktopMachine, Entry> _streams = [];
    private readonly ILogger _log = (loggers ?? NullLoggerFactory.Instance).CreateLogger<DesktopStream>();

    /// <summary>Desktops being streamed.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _streams.Count;
        }
    }

    /// <summary>The stream of <paramref name="machine"/> while it has viewers (for its counters), else null.</summary>
    public DesktopStream? Find(IDesktopMachine machine)
    {
        lock (_gate)
            return _streams.GetValueOrDefault(machine)?.Stream;
    }

    /// <summary>A new viewer of <paramref name="machine"/>'s display; disposing it leaves the stream (the last one ends it).</summary>
    public StreamViewer Join(IDesktopMachine machine, Func<FrameUpdate, ValueTask> send)
    {
        ArgumentNullException.ThrowIfNull(machine);
        lock (_gate)
        {
            if (!_streams.TryGetValue(machine, out var entry))
            {
                var source = new DesktopScanoutSource(machine);
                entry = new Entry(new DesktopStream(source, options, _log), source);
                _streams.Add(machine, entry);
            }
            entry.Viewers++;
            return entry.Stream.Join(send, _ => LeaveAsync(entry));
        }
    }

    /// <summary>
    /// Told after a desktop's machine was replaced by a live migration (old, new): each viewer moves its own
    /// subscriptions (cursor, mode) over. Raised after the stream itself was repointed.
    /// </summary>
    public event Action<IDesktopMachine, IDesktopMachine>? Repointed;

    /// <summary>
    /// A live migration replaced <paramref name="from"/> by <paramref name="to"/>: its stream (if it has viewers) now
    /// captures <paramref name="to"/>, whose whole screen is damaged; the viewers stay connected as they were. No
    /// keyframe: the composer sends only the cells that differ from what the viewers show — at the switch the
    /// destination shows the source's pixels, so what goes is what changed since, as on any frame.
    /// </summary>
    public Task Repoint(IDesktopMachine from, IDesktopMachine to)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        Entry? entry;
        lock (_gate)
        {
            if (_streams.Remove(from, out entry))
            {
                entry.Source.Repoint(to);
                _streams[to] = entry;
            }
        }
        Repointed?.Invoke(from, to);
        return Task.CompletedTask;
    }

    private async ValueTask LeaveAsync(Entry entry)
    {
        lock (_gate)
        {
            if (--entry.Viewers > 0)
                return;
            var machine = entry.Source.Desktop; // the current one: a migration may have repointed it
            if (_streams.GetValueOrDefault(machine) == entry)
                _streams.Remove(machine);
        }
        await entry.Stream.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Entry(DesktopStream stream, DesktopScanoutSource source)
    {
        public DesktopStream Stream { get; } = stream;

        public DesktopScanoutSource Source { get; } = source;

        public int Viewers { get; set; }
    }
}
