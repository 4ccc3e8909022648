using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>The viewers' side of a <see cref="DesktopStream"/>: joining, and serving each ready viewer what it lacks.</summary>
public sealed partial class DesktopStream
{
    /// <summary>
    /// A new viewer: it gets a keyframe once the worker next looks (<see cref="StreamViewer.RequestFullFrame"/> makes
    /// that now), then the versions it has not seen, each frame after the previous one was acknowledged.
    /// </summary>
    public StreamViewer Join(Func<FrameUpdate, ValueTask> send) => Join(send, null);

    internal StreamViewer Join(Func<FrameUpdate, ValueTask> send, Func<StreamViewer, ValueTask>? left)
    {
        ArgumentNullException.ThrowIfNull(send);
        var viewer = new StreamViewer(this, send, left);
        lock (Gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _viewers.Add(viewer);
        }
        return viewer;
    }

    internal void Remove(StreamViewer viewer)
    {
        lock (Gate)
            _viewers.Remove(viewer);
    }

    internal void Wake() => _wake.Set();

    /// <summary>Sends every ready viewer that lacks the newest version what it lacks.</summary>
    private void Serve(int quality)
    {
        if (!_modelValid || _ring.Latest is not { } head || _composer.Screen is not { } screen
            || screen.Width != head.Width || screen.Height != head.Height)
            return;
        List<(StreamViewer Viewer, bool Keyframe)> ready = [];
        lock (Gate)
        {
            if (_stopped)
                return;
            foreach (var viewer in _viewers)
            {
                if (viewer.IsReady && (viewer.KeyframeDue || viewer.Version < head.Number))
                    ready.Add((viewer, viewer.KeyframeDue || viewer.Version == 0));
            }
        }
        var served = 0;
        foreach (var (viewer, keyframeDue) in ready)
        {
            List<Tile>? catchUp = null;
            if (!keyframeDue)
            {
                var after = viewer.Version;
                if (after < _modeStart - 1)
                {
                    // The mode changed since: its first version covers the whole screen; what the viewer's slots held
                    // across the versions skipped is unknown.
                    after = _modeStart - 1;
                    viewer.Slots.Clear();
                }
                var budget = _keyframe is { } known && known.Version == head.Number ? Math.Min(_options.CatchUpBudgetBytes, known.Bytes) : _options.CatchUpBudgetBytes;
                catchUp = CatchUp.Build(_ring, after, viewer.Slots, budget);
            }
            Tile[] tiles;
            var keyframe = catchUp is null;
            if (keyframe)
            {
                tiles = KeyframeOf(head.Number, screen, quality);
                viewer.Slots.Clear();
                viewer.Slots.AddFills(tiles);
            }
            else
            {
                tiles = [.. catchUp!];
            }
            viewer.Version = head.Number;
            long id;
            lock (Gate)
            {
                if (!viewer.Start(tiles, keyframe, out id))
                    continue;
            }
            var frame = new FrameUpdate(id, head.Width, head.Height, tiles, _source.Dpi);
            if (++served == ready.Count)
            {
                // The last one is started here, saving a thread hop on the round trip (all of it for a lone
                // viewer); it runs until its first wait (serializing the frame), never awaited by the worker.
                var sending = SendAsync(viewer, frame);
                lock (Gate)
                    viewer.Sending(sending);
                continue;
            }
            var send = new Task<Task>(() => SendAsync(viewer, frame));
            lock (Gate)
                viewer.Sending(send.Unwrap()); // before it starts: a viewer leaving waits for it
            send.Start(TaskScheduler.Default);
        }
    }

    private Tile[] KeyframeOf(long version, ClientScreen screen, int quality)
    {
        if (_keyframe is { } known && known.Version == version)
            return known.Tiles;
        var tiles = Keyframe.Build(screen, _composer, _encoder, _ring, quality);
        long bytes = 0;
        foreach (var tile in tiles)
            bytes += tile.Data.Length;
        _keyframe = (version, tiles, bytes);
        lock (Gate)
            _counters = _counters.AddKeyframe();
        return tiles;
    }

    private async Task SendAsync(StreamViewer viewer, FrameUpdate frame)
    {
        try
        {
            await viewer.Send(frame).ConfigureAwait(false);
        }
        catch (Exception e) // a closed connection included: this viewer gets nothing more
        {
            DisplayLog.SendFailed(_log, frame.FrameId, e);
            lock (Gate)
                viewer.Stop();
        }
    }
}
