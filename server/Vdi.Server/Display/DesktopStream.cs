using Microsoft.Extensions.Logging.Abstractions;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Captures and encodes one display once, however many viewers watch it: damage goes into one model of the picture
/// (<see cref="ClientScreen"/>), and a <see cref="FrameComposer"/> turns it into numbered versions — each the ordered
/// operations (scroll copies, tile-cache references, JPEG for fast-changing cells at an adaptive quality, PNG
/// otherwise, a lossless refresh once motion stops) that take a client from the previous version to this one. Each
/// <see cref="StreamViewer"/> gets the versions it has not seen, one frame at a time.
/// </summary>
/// <remarks>
/// A new version is made only when there is damage and at least one viewer is ready (acknowledged its last frame),
/// so damage coalesces while everyone is busy. Recent versions are kept (<see cref="VersionRing"/>): a viewer behind
/// by a few gets them in one frame (<see cref="CatchUp"/>), one that joined, asked for the full screen or fell too far
/// behind gets a keyframe of the newest version (<see cref="Keyframe"/>, made once per version). The cache slots are
/// assigned once for everyone; each viewer's record of the slots it holds turns a reference to one it lacks into
/// that slot's PNG. JPEG quality is the lowest that any viewer's lag calls for (<see cref="AdaptiveJpegQuality"/>):
/// every viewer gets the same tiles, and smaller tiles are what lets a slow viewer keep receiving versions rather
/// than keyframes. The source's events only record damage and wake the worker; capture, encoding and sending run on
/// the worker, never on a vCPU thread; sends are started, never awaited, by the worker (all but the last of a round
/// on the thread pool), so one viewer's socket cannot stall another's frames.
/// </remarks>
public sealed partial class DesktopStream : IAsyncDisposable
{
    // Lock order: the source's own lock (held while it raises events) → Gate.
    // The worker never calls the source while holding Gate.
    private readonly IScanoutSource _source;
    private readonly DesktopStreamOptions _options;
    private readonly TileEncoder _encoder;
    private readonly FrameComposer _composer; // worker only
    private readonly VersionRing _ring; // worker only
    private readonly List<Tile> _tiles = []; // worker only, reused
    private readonly DamageRegion _damage;
    private readonly WakeSignal _wake = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private readonly Task _loop;

    // Guarded by Gate.
    private readonly List<StreamViewer> _viewers = [];
    private (int Width, int Height)? _mode;
    private bool _modeSeen;
    private long _modeEpoch; // bumped on every size change: versions captured across one are dropped
    private bool _fullPending = true; // the model has no picture of this mode yet
    private int _flushesPending;
    private long _head;
    private bool _stopped;
    private bool _disposed;
    private FrameCounters _counters;

    // Worker only.
    private bool _modelValid; // the model holds the newest version's picture: keyframes can be made of it
    private bool _refreshDue; // the lossless refresh's delay passed
    private long _modeStart; // the first version of the current mode (it covers the whole screen)
    private (long Version, Tile[] Tiles, long Bytes)? _keyframe;

    public DesktopStream(IScanoutSource source, DesktopStreamOptions? options = null, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _options = options ?? new DesktopStreamOptions();
        _encoder = new TileEncoder(_options.Encoder);
        _composer = new FrameComposer(_encoder) { Parallel = _options.ParallelEncoding };
        _ring = new VersionRing(_options.MaxVersions, _options.MaxVersionBytes);
        _damage = new DamageRegion(_options.MaxDamageRectangles, _options.Encoder.CellSize);
        _log = log ?? NullLogger.Instance;
        source.ScanoutChanged += OnScanoutChanged;
        source.Flushed += OnFlushed;
        var mode = source.Mode;
        lock (Gate)
        {
            if (!_modeSeen)
                _mode = mode;
        }
        _loop = Task.Run(RunAsync);
    }

    internal Lock Gate { get; } = new();

    /// <summary>What this desktop encoded: versions (as frames), bytes, tiles, flushes, keyframes. Its fps and encoded bandwidth.</summary>
    public FrameCounters Counters
    {
        get
        {
            lock (Gate)
                return _counters;
        }
    }

    /// <summary>What each current viewer received (frames and bytes sent to it), in the order they joined.</summary>
    public IReadOnlyList<FrameCounters> ViewerCounters
    {
        get
        {
            lock (Gate)
                return [.. _viewers.Select(v => v.Counters)];
        }
    }

    /// <summary>The newest version's number, 0 before the first.</summary>
    public long Version
    {
        get
        {
            lock (Gate)
                return _head;
        }
    }

    public int ViewerCount
    {
        get
        {
            lock (Gate)
                return _viewers.Count;
        }
    }

    /// <summary>The JPEG quality the next fast-changing tiles get: the lowest any viewer's lag calls for.</summary>
    public int JpegQuality
    {
        get
        {
            lock (Gate)
                return QualityLocked();
        }
    }

    /// <summary>Unsubscribes and stops the worker; waits for sends already in progress to return.</summary>
    public async ValueTask DisposeAsync()
    {
        StreamViewer[] viewers;
        lock (Gate)
        {
            if (_disposed)
                return;
            _disposed = _stopped = true;
            viewers = [.. _viewers];
        }
        _source.Flushed -= OnFlushed;
        _source.ScanoutChanged -= OnScanoutChanged;
        _wake.Close();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        foreach (var viewer in viewers)
            await viewer.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private void OnFlushed(ScanoutFlush flush)
    {
        lock (Gate)
        {
            if (_mode != (flush.ScanoutWidth, flush.ScanoutHeight))
                SetMode((flush.ScanoutWidth, flush.ScanoutHeight)); // a mode we were not told about: trust the flush
            _damage.Add(flush.Damage);
            _flushesPending++;
        }
        Wake();
    }

    private void OnScanoutChanged(ScanoutChange change)
    {
        lock (Gate)
        {
            _modeSeen = true;
            (int, int)? mode = change.Enabled ? (change.Width, change.Height) : null;
            if (mode != _mode)
                SetMode(mode);
            else if (mode is { } m)
                _damage.Add(new GpuRect(0, 0, m.Item1, m.Item2)); // same size, other resource: anything may differ
        }
        Wake();
    }

    private void SetMode((int Width, int Height)? mode)
    {
        _mode = mode;
        _modeEpoch++;
        _damage.Clear();
        _fullPending = true;
    }

    private int QualityLocked()
    {
        var quality = AdaptiveJpegQuality.Highest;
        foreach (var viewer in _viewers)
        {
            if (!viewer.IsStopped)
                quality = Math.Min(quality, viewer.LagQuality);
        }
        return quality;
    }

    private async Task RunAsync()
    {
        var token = _stop.Token;
        try
        {
            WakeReason wake;
            while ((wake = await _wake.WaitAsync(_composer.Screen is { HasLossy: true } ? _options.LosslessRefreshDelay : null, token).ConfigureAwait(false)) != WakeReason.Closed)
            {
                if (wake == WakeReason.Timeout && _composer.Screen is { HasLossy: true })
                    _refreshDue = true;
                while (Step())
                {
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>Makes a version if one is due and a viewer is ready for it, then serves every ready viewer; true to look again at once.</summary>
    private bool Step()
    {
        (int Width, int Height) mode;
        GpuRect[] rects = [];
        long epoch;
        int flushes = 0, quality;
        bool make = true, full = false, lossless = false;
        lock (Gate)
        {
            if (_stopped || _mode is not { } m || !_viewers.Exists(v => v.IsReady))
                return false;
            (mode, epoch, quality) = (m, _modeEpoch, QualityLocked());
            var changed = Clip(_damage.Take(), m);
            if (_fullPending)
                (rects, full) = ([new GpuRect(0, 0, m.Width, m.Height)], true);
            else if (changed.Length > 0)
                rects = changed;
            else if (_refreshDue && _composer.Screen is { HasLossy: true })
                lossless = true;
            else
                make = false;
            if (make)
            {
                _fullPending = false;
                (flushes, _flushesPending) = (_flushesPending, 0);
            }
        }
        var made = false;
        if (make)
        {
            _refreshDue = false;
            switch (Make(mode, epoch, rects, full, lossless, flushes, quality))
            {
                case Outcome.Again:
                    return true;
                case Outcome.Failed:
                    return false;
                case Outcome.Made:
                    made = true;
                    break;
            }
        }
        Serve(quality);
        return made;
    }

    private enum Outcome
    {
        Made,
        Unchanged,
        Again,
        Failed,
    }

    /// <summary>Captures <paramref name="rects"/> into the model and composes the next version from them.</summary>
    private Outcome Make((int Width, int Height) mode, long epoch, GpuRect[] rects, bool full, bool lossless, int flushes, int quality)
    {
        var tiles = _tiles;
        tiles.Clear();
        try
        {
            if (_composer.Screen is not { } screen || screen.Width != mode.Width || screen.Height != mode.Height)
            {
                _composer.Reset(mode.Width, mode.Height);
                screen = _composer.Screen!;
                _modeStart = _ring.Head + 1;
                DisplayLog.ModeChanged(_log, mode.Width, mode.Height);
            }
            else if (full)
            {
                screen.Forget();
            }
            _modelValid = false; // until the version is recorded, the model is ahead of it
            foreach (var rect in rects)
            {
                if (!_source.TryCapture(rect, screen.Next.Pixels, screen.Next.Stride, out var format))
                    return Abandon(epoch);
                screen.Next.ToOpaqueBgra(rect, format);
            }
            _composer.Compose(rects, lossless, quality, tiles);
        }
        catch (Exception e)
        {
            DisplayLog.EncodeFailed(_log, e);
            lock (Gate)
                _stopped = true;
            return Outcome.Failed;
        }

        lock (Gate)
        {
            if (_stopped)
                return Outcome.Failed;
            if (_modeEpoch != epoch)
                return Outcome.Again; // the size changed under the capture: the new size's full version goes instead
            if (tiles.Count == 0)
            {
                _counters = _counters.AddUnchanged(flushes);
                _modelValid = _ring.Head > 0;
                return Outcome.Unchanged; // flushed, but nothing the clients show changed
            }
            _counters = _counters.AddFrame(tiles, flushes, lossless);
        }
        var version = _ring.Add(mode.Width, mode.Height, [.. tiles]);
        _modelValid = true;
        _keyframe = null;
        lock (Gate)
            _head = version.Number;
        return Outcome.Made;
    }

    /// <summary>The capture did not match the version: after a mode change go again, otherwise wait for the next event.</summary>
    private Outcome Abandon(long epoch)
    {
        lock (Gate)
        {
            if (_modeEpoch != epoch)
                return Outcome.Again;
            _fullPending = true; // the model may now miss the damage we took: capture everything
            return Outcome.Failed;
        }
    }

    private static GpuRect[] Clip(GpuRect[] rects, (int Width, int Height) mode)
    {
        var screen = new GpuRect(0, 0, mode.Width, mode.Height);
        var clipped = 0;
        for (var i = 0; i < rects.Length; i++)
        {
            var r = rects[i].Intersect(screen);
            if (!r.IsEmpty)
                rects[clipped++] = r;
        }
        return clipped == rects.Length ? rects : rects[..clipped];
    }
}
