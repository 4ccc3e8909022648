using Microsoft.Extensions.Logging.Abstractions;
using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// The one <see cref="DesktopStream"/> of each running machine that has viewers: made when its first viewer joins,
/// disposed (with its GPU adapter) when its last one leaves — which every viewer does when the desktop stops, since
/// its sessions end. A controlling session and any number of shadow sessions share it.
/// </summary>
public sealed class DesktopStreams(ILoggerFactory? loggers = null, DesktopStreamOptions? options = null)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Vmm.Machine.Machine, Entry> _streams = [];
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
    public DesktopStream? Find(Vmm.Machine.Machine machine)
    {
        lock (_gate)
            return _streams.GetValueOrDefault(machine)?.Stream;
    }

    /// <summary>A new viewer of <paramref name="machine"/>'s display; disposing it leaves the stream (the last one ends it).</summary>
    public StreamViewer Join(Vmm.Machine.Machine machine, Func<FrameUpdate, ValueTask> send)
    {
        ArgumentNullException.ThrowIfNull(machine);
        lock (_gate)
        {
            if (!_streams.TryGetValue(machine, out var entry))
            {
                var source = new VirtioGpuScanoutSource(machine.Devices.Gpu, machine.Lease);
                entry = new Entry(new DesktopStream(source, options, _log), source);
                _streams.Add(machine, entry);
            }
            entry.Viewers++;
            return entry.Stream.Join(send, _ => LeaveAsync(machine, entry));
        }
    }

    private async ValueTask LeaveAsync(Vmm.Machine.Machine machine, Entry entry)
    {
        lock (_gate)
        {
            if (--entry.Viewers > 0)
                return;
            if (_streams.GetValueOrDefault(machine) == entry)
                _streams.Remove(machine);
        }
        await entry.Stream.DisposeAsync().ConfigureAwait(false);
        entry.Source.Dispose();
    }

    private sealed class Entry(DesktopStream stream, VirtioGpuScanoutSource source)
    {
        public DesktopStream Stream { get; } = stream;

        public VirtioGpuScanoutSource Source { get; } = source;

        public int Viewers { get; set; }
    }
}
