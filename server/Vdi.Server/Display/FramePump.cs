using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Streams one display to one viewer as <see cref="FrameUpdate"/>s, frame-acknowledged: at most one
/// frame is in flight, and until its <see cref="Acknowledge"/> arrives new damage is coalesced, so
/// the next frame carries the latest pixels of every damaged area (never a queue of stale frames).
/// </summary>
/// <remarks>
/// The source's events only record damage and wake a worker; capture and encoding run on the
/// worker, never on the vCPU thread: the damaged rows are copied into a buffer kept per mode, and
/// a <see cref="FrameComposer"/> turns them into copies, cache references and PNG/JPEG tiles. The
/// first frame, the first after a mode change and the one after <see cref="RequestFullFrame"/>
/// cover the whole screen. Nothing is sent while the display is idle or a flush changed nothing.
/// JPEG quality follows the acknowledgements' lag (<see cref="AdaptiveJpegQuality"/>).
/// </remarks>
public sealed class FramePump : IAsyncDisposable
{
    // Lock order: the source's own lock (held while it raises events) → _gate.
    // The worker never calls the source while holding _gate.
    private readonly Lock _gate = new();
    private readonly IScanoutSource _source;
    private readonly Func<FrameUpdate, ValueTask> _send;
    private readonly FramePumpOptions _options;
    private readonly FrameComposer _composer; // worker only
    private readonly List<Tile> _tiles = []; // worker only, reused
    private readonly DamageRegion _damage;
    private readonly WakeSignal _wake = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private readonly Task _loop;

    // Guarded by _gate.
    private (int Width, int Height)? _mode;
    private bool _modeSeen;
    private long _modeEpoch; // bumped on every size change: frames captured across one are dropped
    private bool _fullPending = true; // the client has no picture yet
    private long _inFlight; // frame id awaiting its ack, 0 when none
    private long _sentAt; // timestamp of the frame in flight
    private long _sentBytes; // its encoded bytes
    private readonly AdaptiveJpegQuality _quality = new();
    private long _lastFrameId;
    private int _flushesPending;
    private bool _stopped;
    private bool _disposed;
    private FramePumpCounters _counters;

    // Worker only.
    private (int Width, int Height)? _sentMode;

    public FramePump(IScanoutSource source, Func<FrameUpdate, ValueTask> send, FramePumpOptions? options = null, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(send);
        _source = source;
        _send = send;
        _options = options ?? new FramePumpOptions();
        _composer = new FrameComposer(new TileEncoder(_options.Encoder)) { Parallel = _options.ParallelEncoding };
        _damage = new DamageRegion(_options.MaxDamageRectangles, _options.Encoder.CellSize);
        _log = log ?? NullLogger.Instance;
        source.ScanoutChanged += OnScanoutChanged;
        source.Flushed += OnFlushed;
        var mode = source.Mode;
        lock (_gate)
        {
            if (!_modeSeen)
                _mode = mode;
        }
        _loop = Task.Run(RunAsync);
    }

    public FramePumpCounters Counters
    {
        get
        {
            lock (_gate)
                return _counters;
        }
    }

    /// <summary>The id of the last frame handed to the send callback, 0 before the first.</summary>
    public long LastFrameId
    {
        get
        {
            lock (_gate)
                return _lastFrameId;
        }
    }

    /// <summary>The JPEG quality the next fast-changing tiles get, from the client's lag.</summary>
    public int JpegQuality
    {
        get
        {
            lock (_gate)
                return _quality.Quality;
        }
    }

    /// <summary>The client painted every frame up to <paramref name="frameId"/>; false for an id not in flight.</summary>
    public bool Acknowledge(long frameId)
    {
        lock (_gate)
        {
            if (_inFlight == 0 || frameId < _inFlight || frameId > _lastFrameId)
                return false;
            _inFlight = 0;
            _quality.Observe(Stopwatch.GetElapsedTime(_sentAt), _sentBytes);
        }
        Signal();
        return true;
    }

    /// <summary>Sends the whole screen next (after the frame in flight, if any, is acknowledged).</summary>
    public void RequestFullFrame()
    {
        lock (_gate)
            _fullPending = true;
        Signal();
    }

    /// <summary>Unsubscribes and stops the worker; waits for a send already in progress to return.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = _stopped = true;
        }
        _source.Flushed -= OnFlushed;
        _source.ScanoutChanged -= OnScanoutChanged;
        _wake.Close();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private void OnFlushed(ScanoutFlush flush)
    {
        lock (_gate)
        {
            if (_mode != (flush.ScanoutWidth, flush.ScanoutHeight))
                SetMode((flush.ScanoutWidth, flush.ScanoutHeight)); // a mode we were not told about: trust the flush
            _damage.Add(flush.Damage);
            _flushesPending++;
        }
        Signal();
    }

    private void OnScanoutChanged(ScanoutChange change)
    {
        lock (_gate)
        {
            _modeSeen = true;
            (int, int)? mode = change.Enabled ? (change.Width, change.Height) : null;
            if (mode != _mode)
                SetMode(mode);
            else if (mode is { } m)
                _damage.Add(new GpuRect(0, 0, m.Item1, m.Item2)); // same size, other resource: anything may differ
        }
        Signal();
    }

    private void SetMode((int Width, int Height)? mode)
    {
        _mode = mode;
        _modeEpoch++;
        _damage.Clear();
        _fullPending = true;
    }

    private void Signal() => _wake.Set();

    private async Task RunAsync()
    {
        var token = _stop.Token;
        try
        {
            WakeReason wake;
            while ((wake = await _wake.WaitAsync(_composer.Screen is { HasLossy: true } ? _options.LosslessRefreshDelay : null, token).ConfigureAwait(false)) != WakeReason.Closed)
            {
                while (await PumpOnceAsync(refresh: wake == WakeReason.Timeout).ConfigureAwait(false))
                    wake = WakeReason.Signal; // a refresh is one frame, not a loop
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends one frame if one is due and allowed; true when the caller should look again at once.</summary>
    private async ValueTask<bool> PumpOnceAsync(bool refresh)
    {
        (int Width, int Height) mode;
        GpuRect[] rects;
        long epoch;
        int flushes, quality;
        bool full = false, lossless = false;
        var lossy = _composer.Screen is { HasLossy: true };
        lock (_gate)
        {
            if (_stopped || _inFlight != 0 || _mode is not { } m)
                return false;
            (mode, epoch, quality) = (m, _modeEpoch, _quality.Quality);
            var changed = Clip(_damage.Take(), m);
            if (_fullPending)
                (rects, full) = ([new GpuRect(0, 0, m.Width, m.Height)], true);
            else if (changed.Length > 0)
                rects = changed;
            else if (refresh && lossy)
                (rects, lossless) = ([], true);
            else
                return false;
            _fullPending = false;
            (flushes, _flushesPending) = (_flushesPending, 0);
        }

        var tiles = _tiles;
        tiles.Clear();
        try
        {
            if (_composer.Screen is not { } screen || screen.Width != mode.Width || screen.Height != mode.Height)
            {
                _composer.Reset(mode.Width, mode.Height);
                screen = _composer.Screen!;
            }
            else if (full)
            {
                screen.Forget();
            }
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
            Stop();
            return false;
        }

        long id;
        lock (_gate)
        {
            if (_stopped)
                return false;
            if (_modeEpoch != epoch)
                return true; // the size changed under the capture: the new size's full frame goes instead
            if (tiles.Count == 0)
            {
                _counters = _counters.AddUnchanged(flushes);
                return false; // flushed, but nothing the client shows changed
            }
            id = ++_lastFrameId;
            _inFlight = id;
            var before = _counters.BytesSent;
            _counters = _counters.AddFrame(tiles, flushes, lossless);
            _sentBytes = _counters.BytesSent - before;
            _sentAt = Stopwatch.GetTimestamp();
        }
        if (_sentMode != mode)
        {
            DisplayLog.ModeChanged(_log, mode.Width, mode.Height);
            _sentMode = mode;
        }
        try
        {
            await _send(new FrameUpdate(id, mode.Width, mode.Height, [.. tiles], _source.Dpi)).ConfigureAwait(false);
        }
        catch (Exception e) // a closed connection included: this viewer gets nothing more
        {
            DisplayLog.SendFailed(_log, id, e);
            Stop();
            return false;
        }
        return true;
    }

    /// <summary>The capture did not match the frame: after a mode change go again, otherwise wait for the next event.</summary>
    private bool Abandon(long epoch)
    {
        lock (_gate)
        {
            if (_modeEpoch != epoch)
                return true;
            _fullPending = true; // the client may now miss the damage we took: repaint everything
            return false;
        }
    }

    private void Stop()
    {
        lock (_gate)
            _stopped = true;
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
