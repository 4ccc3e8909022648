using Vdi.Protocol;
using Vdi.Server.Display;

namespace Vdi.Server.Tests.Display;

/// <summary>A <see cref="DesktopStream"/> with one <see cref="StreamViewer"/>: what one connection sees.</summary>
internal sealed class StreamRig : IAsyncDisposable
{
    public StreamRig(IScanoutSource source, Func<FrameUpdate, ValueTask> send, DesktopStreamOptions? options = null)
    {
        Stream = new DesktopStream(source, options);
        Viewer = Stream.Join(send);
    }

    public DesktopStream Stream { get; }

    public StreamViewer Viewer { get; }

    /// <summary>The desktop's counters (versions encoded, flushes).</summary>
    public FrameCounters Counters => Stream.Counters;

    public long LastFrameId => Viewer.LastFrameId;

    public int JpegQuality => Stream.JpegQuality;

    public void RequestFullFrame() => Viewer.RequestFullFrame();

    public bool Acknowledge(long frameId) => Viewer.Acknowledge(frameId);

    public async ValueTask DisposeAsync()
    {
        await Viewer.DisposeAsync();
        await Stream.DisposeAsync();
    }
}
