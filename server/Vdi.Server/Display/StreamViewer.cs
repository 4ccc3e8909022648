using System.Diagnostics;
using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// One viewer of a <see cref="DesktopStream"/>, frame-acknowledged: at most one frame is in flight, and once its
/// <see cref="Acknowledge"/> arrives the viewer gets, in one <see cref="FrameUpdate"/>, every version of the picture
/// it has not seen (or a keyframe of the newest). A slow viewer thus gets the newest state coalesced, never a queue,
/// and never holds back the others. Its state is small and bounded: the version it has, which tile-cache slots it
/// holds, its lag; no pixels.
/// </summary>
public sealed class StreamViewer : IAsyncDisposable
{
    private readonly DesktopStream _stream;
    private readonly Func<StreamViewer, ValueTask>? _left;

    // Guarded by the stream's gate.
    private long _inFlight; // frame id awaiting its ack, 0 when none
    private long _sentAt;
    private long _sentBytes;
    private long _lastFrameId;
    private bool _keyframeDue = true; // it has no picture yet
    private bool _stopped;
    private bool _disposed;
    private FrameCounters _counters;
    private readonly AdaptiveJpegQuality _quality = new();
    private Task _sending = Task.CompletedTask;

    internal StreamViewer(DesktopStream stream, Func<FrameUpdate, ValueTask> send, Func<StreamViewer, ValueTask>? left)
    {
        _stream = stream;
        Send = send;
        _left = left;
    }

    internal Func<FrameUpdate, ValueTask> Send { get; }

    // The stream's worker only.
    internal long Version { get; set; }

    internal SlotSet Slots { get; } = new();

    /// <summary>The id of the last frame handed to the send callback, 0 before the first.</summary>
    public long LastFrameId
    {
        get
        {
            lock (_stream.Gate)
                return _lastFrameId;
        }
    }

    /// <summary>What this viewer received: frames, bytes, tiles by kind, keyframes.</summary>
    public FrameCounters Counters
    {
        get
        {
            lock (_stream.Gate)
                return _counters;
        }
    }

    /// <summary>The JPEG quality this viewer's lag alone would call for (the stream encodes with the lowest of its viewers').</summary>
    public int JpegQuality
    {
        get
        {
            lock (_stream.Gate)
                return _quality.Quality;
        }
    }

    /// <summary>The viewer painted every frame up to <paramref name="frameId"/>; false for an id not in flight.</summary>
    public bool Acknowledge(long frameId)
    {
        lock (_stream.Gate)
        {
            if (_stopped || _inFlight == 0 || frameId < _inFlight || frameId > _lastFrameId)
                return false;
            _inFlight = 0;
            _quality.Observe(Stopwatch.GetElapsedTime(_sentAt), _sentBytes);
        }
        _stream.Wake();
        return true;
    }

    /// <summary>Sends this viewer a keyframe of the whole screen next (after the frame in flight, if any, is acknowledged).</summary>
    public void RequestFullFrame()
    {
        lock (_stream.Gate)
            _keyframeDue = true;
        _stream.Wake();
    }

    /// <summary>Leaves the stream; waits for a send already in progress to return.</summary>
    public async ValueTask DisposeAsync()
    {
        Task sending;
        lock (_stream.Gate)
        {
            if (_disposed)
                return;
            _disposed = _stopped = true;
            sending = _sending;
        }
        _stream.Remove(this);
        await sending.ConfigureAwait(false);
        if (_left is not null)
            await _left(this).ConfigureAwait(false);
    }

    // Under the stream's gate.
    internal bool IsReady => !_stopped && _inFlight == 0;

    internal bool IsStopped => _stopped;

    internal bool KeyframeDue => _keyframeDue;

    internal int LagQuality => _quality.Quality;

    /// <summary>Gives the frame of <paramref name="tiles"/> its id, marks it in flight and counts it; false when the viewer stopped meanwhile.</summary>
    internal bool Start(Tile[] tiles, bool keyframe, out long frameId)
    {
        frameId = 0;
        if (_stopped)
            return false;
        frameId = ++_lastFrameId;
        _inFlight = frameId;
        if (keyframe)
            _keyframeDue = false;
        var before = _counters.BytesSent;
        _counters = _counters.AddFrame(tiles, 0, lossless: false, keyframe);
        _sentBytes = _counters.BytesSent - before;
        _sentAt = Stopwatch.GetTimestamp();
        return true;
    }

    internal void Sending(Task task) => _sending = task;

    internal void Stop() => _stopped = true;
}
