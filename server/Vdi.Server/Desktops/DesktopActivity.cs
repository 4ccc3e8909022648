using Vdi.Protocol;
using Vdi.Server.Hubs;

namespace Vdi.Server.Desktops;

/// <summary>
/// What each desktop sends its viewers, for the dashboard: frames and bytes per second over the last few seconds and
/// how many sessions are connected. Every <see cref="SampleInterval"/> the desktops' send counters are read
/// (<see cref="ReadCounters"/>, the only place that knows where they come from) and a rate is the counters' growth
/// over the last <see cref="WindowSamples"/> samples. Counters only grow; one that went down started again from zero
/// (its viewer or encoder was replaced), so its growth since is its whole value, as Prometheus' <c>rate()</c> does.
/// </summary>
public sealed class DesktopActivity(ConnectionOwners owners, TimeProvider time, DesktopPool? pool = null, Display.DesktopStreams? streams = null) : BackgroundService
{
    public static readonly TimeSpan SampleInterval = TimeSpan.FromSeconds(1);

    /// <summary>Samples a rate spans: the last four intervals.</summary>
    public const int WindowSamples = 5;

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, History> _desktops = []; // under _gate

    /// <summary>A desktop's send counters as read at one moment.</summary>
    internal readonly record struct Counters(long Frames, long Bytes, int Sessions);

    /// <summary>The activity of one desktop; zero rates and no sessions when nothing was sent lately.</summary>
    public DesktopActivitySummary Get(Guid desktopId)
    {
        lock (_gate)
            return _desktops.TryGetValue(desktopId, out var history) ? history.Summary(desktopId) : new DesktopActivitySummary(desktopId, 0, 0, 0);
    }

    /// <summary>
    /// The desktops' send counters now: frames are the versions of its picture the desktop's one encoder made
    /// (<see cref="Display.DesktopStream.Counters"/>, the frame rate its viewers see at most), bytes what went out to all
    /// of its viewers together (each viewer's <see cref="Hubs.ConnectionOwner.Counters"/>), sessions its connected ones.
    /// Without a desktop stream (no pool or registry, as in unit tests) frames are what the viewers received.
    /// </summary>
    internal IReadOnlyDictionary<Guid, Counters> ReadCounters()
    {
        var sums = new Dictionary<Guid, Counters>();
        foreach (var owner in owners.All)
        {
            if (owner.Session is not { } session || !owner.IsOpen)
                continue;
            var sent = owner.Counters ?? default;
            var sum = sums.GetValueOrDefault(session.DesktopId);
            sums[session.DesktopId] = new Counters(sum.Frames + sent.FramesSent, sum.Bytes + sent.BytesSent, sum.Sessions + 1);
        }
        if (pool is null || streams is null)
            return sums;
        foreach (var (id, sum) in sums.ToList())
        {
            if (pool.Get(id)?.Desktop is { } machine && streams.Find(machine) is { } stream)
                sums[id] = sum with { Frames = stream.Counters.FramesSent };
        }
        return sums;
    }

    /// <summary>Records the counters read <paramref name="at"/> (time since any fixed origin).</summary>
    internal void Sample(TimeSpan at, IReadOnlyDictionary<Guid, Counters> counters)
    {
        lock (_gate)
        {
            foreach (var (id, read) in counters)
            {
                if (!_desktops.TryGetValue(id, out var history))
                    _desktops[id] = history = new History();
                history.Add(at, read);
            }
            foreach (var (id, history) in _desktops.Where(d => !counters.ContainsKey(d.Key)).ToList())
            {
                // Nobody watches it any more: zero until its window shows no sending, then forgotten.
                history.Add(at, default);
                if (history.Idle)
                    _desktops.Remove(id);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var origin = time.GetTimestamp();
        using var timer = new PeriodicTimer(SampleInterval, time);
        do
        {
            Sample(time.GetElapsedTime(origin), ReadCounters());
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One desktop's last samples, as running totals that never go down.</summary>
    private sealed class History
    {
        private readonly Queue<(TimeSpan At, long Frames, long Bytes)> _window = new();
        private Counters _last;
        private long _frames;
        private long _bytes;

        public bool Idle => _last.Sessions == 0 && _window.All(s => s.Frames == _frames && s.Bytes == _bytes);

        public void Add(TimeSpan at, Counters read)
        {
            _frames += Growth(_last.Frames, read.Frames);
            _bytes += Growth(_last.Bytes, read.Bytes);
            _last = read;
            _window.Enqueue((at, _frames, _bytes));
            while (_window.Count > WindowSamples)
                _window.Dequeue();
        }

        public DesktopActivitySummary Summary(Guid id)
        {
            var (firstAt, firstFrames, firstBytes) = _window.Peek();
            var seconds = (_window.Last().At - firstAt).TotalSeconds;
            return seconds <= 0
                ? new DesktopActivitySummary(id, 0, 0, _last.Sessions)
                : new DesktopActivitySummary(id, (_frames - firstFrames) / seconds, (_bytes - firstBytes) / seconds, _last.Sessions);
        }

        private static long Growth(long before, long now) => now >= before ? now - before : now;
    }
}
