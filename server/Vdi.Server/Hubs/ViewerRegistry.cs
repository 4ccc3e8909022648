using System.Collections.Concurrent;
using Vdi.Protocol;
using Vdi.Server.Display;
using Vdi.Server.Sessions;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Hubs;

/// <summary>
/// One viewer per hub connection: its frame pump (frames sent one at a time, each after the
/// previous one was acknowledged) and its cursor and mode forwarding.
/// </summary>
public sealed class ViewerRegistry
{
    private readonly ConcurrentDictionary<string, Viewer> _viewers = new();

    public int Count => _viewers.Count;

    /// <summary>Starts (or restarts) the viewer of a connection; its first frame is a full one.</summary>
    public void Start(string connectionId, ConnectedSession session, Vmm.Machine.Machine machine, IDesktopHubClient client)
    {
        var viewer = new Viewer(machine.Devices.Gpu, client);
        if (_viewers.TryRemove(connectionId, out var old))
            _ = old.DisposeAsync().AsTask();
        _viewers[connectionId] = viewer;
        viewer.Pump.RequestFullFrame();
    }

    public void Acknowledge(string connectionId, long frameId)
    {
        if (_viewers.TryGetValue(connectionId, out var viewer))
            viewer.Pump.Acknowledge(frameId);
    }

    public void Stop(string connectionId)
    {
        if (_viewers.TryRemove(connectionId, out var viewer))
            _ = viewer.DisposeAsync().AsTask();
    }

    private sealed class Viewer : IAsyncDisposable
    {
        private readonly VirtioGpu _gpu;
        private readonly IDesktopHubClient _client;
        private readonly VirtioGpuScanoutSource _source;

        public Viewer(VirtioGpu gpu, IDesktopHubClient client)
        {
            _gpu = gpu;
            _client = client;
            _source = new VirtioGpuScanoutSource(gpu);
            Pump = new FramePump(_source, frame => new ValueTask(client.FrameUpdate(frame)));
            gpu.CursorChanged += OnCursorChanged;
            gpu.CursorMoved += OnCursorMoved;
            gpu.ScanoutChanged += OnScanoutChanged;
        }

        public FramePump Pump { get; }

        // These run on a vCPU thread under the GPU's gate: hand the sending to the thread pool.
        private void OnCursorChanged(CursorImage image) =>
            _ = Task.Run(() => _client.CursorUpdate(new CursorUpdate(image.HotX, image.HotY, image.Width, image.Height,
                image.Pixels is null ? null : ScanoutImage.EncodePng(new ScanoutSnapshot(image.Width, image.Height, image.Format, image.Pixels)))));

        private void OnCursorMoved(int x, int y) => _ = Task.Run(() => _client.CursorMove(new CursorMove(x, y)));

        private void OnScanoutChanged(ScanoutChange change)
        {
            if (change.Enabled)
                _ = Task.Run(() => _client.ModeChanged(new ModeChanged(change.Width, change.Height, _gpu.Display.Dpi)));
        }

        public async ValueTask DisposeAsync()
        {
            _gpu.CursorChanged -= OnCursorChanged;
            _gpu.CursorMoved -= OnCursorMoved;
            _gpu.ScanoutChanged -= OnScanoutChanged;
            await Pump.DisposeAsync().ConfigureAwait(false);
            _source.Dispose();
        }
    }
}
