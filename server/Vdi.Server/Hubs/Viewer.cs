using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Host;

namespace Vdi.Server.Hubs;

/// <summary>
/// What one connection receives from its desktop: frames from the desktop's shared <see cref="DesktopStream"/> (one at a
/// time, each after the previous one was acknowledged) and the forwarding of cursor and mode events. Every capture runs
/// through the desktop (under a lease of the machine's guest memory in process). Everything goes out through <paramref name="send"/>, the owner's: once
/// its session ended, nothing more goes out, even while the viewer is leaving the stream.
/// </summary>
internal sealed class Viewer : IAsyncDisposable
{
    private readonly IDesktopHubClient _client;
    private readonly Func<Func<Task>, ValueTask> _send;
    private readonly DesktopStreams _streams;
    private readonly Lock _gate = new(); // the machine and its subscriptions change together (a migration)
    private IDesktopMachine _gpu;

    public Viewer(IDesktopMachine machine, DesktopStreams streams, IDesktopHubClient client, Func<Func<Task>, ValueTask> send)
    {
        _gpu = machine;
        _client = client;
        _send = send;
        _streams = streams;
        Frames = streams.Join(machine, frame => send(() => client.FrameUpdate(frame)));
        _gpu.CursorChanged += OnCursorChanged;
        _gpu.CursorMoved += OnCursorMoved;
        _gpu.ScanoutChanged += OnScanoutChanged;
        streams.Repointed += OnRepointed;
    }

    /// <summary>The desktop migrated: cursor and mode events come from its new machine, whose cursor is sent at once.</summary>
    private void OnRepointed(IDesktopMachine from, IDesktopMachine to)
    {
        lock (_gate)
        {
            if (_gpu != from)
                return;
            Unsubscribe();
            _gpu = to;
            _gpu.CursorChanged += OnCursorChanged;
            _gpu.CursorMoved += OnCursorMoved;
            _gpu.ScanoutChanged += OnScanoutChanged;
        }
        if (to.Cursor is { } cursor)
            OnCursorChanged(cursor);
    }

    private void Unsubscribe()
    {
        _gpu.CursorChanged -= OnCursorChanged;
        _gpu.CursorMoved -= OnCursorMoved;
        _gpu.ScanoutChanged -= OnScanoutChanged;
    }

    /// <summary>This connection's place in the desktop's stream: acknowledgements and full-frame requests go here.</summary>
    public StreamViewer Frames { get; }

    // These run on a vCPU thread under the GPU's gate (or a host connection's receive thread): hand the sending to the thread pool.
    private void OnCursorChanged(CursorImage image) => Send(() => _client.CursorUpdate(new CursorUpdate(image.HotX, image.HotY, image.Width, image.Height,
        image.Pixels is null ? null : ScanoutImage.EncodePng(new ScanoutSnapshot(image.Width, image.Height, image.Format, image.Pixels)))));

    private void OnCursorMoved(int x, int y) => Send(() => _client.CursorMove(new CursorMove(x, y)));

    private void OnScanoutChanged(ScanoutChange change)
    {
        if (change.Enabled)
            Send(() => _client.ModeChanged(new ModeChanged(change.Width, change.Height, Volatile.Read(ref _gpu).Dpi)));
    }

    private void Send(Func<Task> send) => _ = Task.Run(async () => await _send(send).ConfigureAwait(false));

    public async ValueTask DisposeAsync()
    {
        _streams.Repointed -= OnRepointed;
        lock (_gate)
            Unsubscribe();
        await Frames.DisposeAsync().ConfigureAwait(false);
    }
}
