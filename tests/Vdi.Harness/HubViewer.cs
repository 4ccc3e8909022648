using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;
using Vdi.Protocol;

namespace Vdi.Harness;

/// <summary>
/// One frame as a viewer got it: when it arrived, when it was painted, how big it was on the wire, and (for painting
/// viewers) what each of its operations covered and cost on the wire.
/// </summary>
internal readonly record struct FrameRecord(long FrameId, int Width, int Height, long ReceivedAt, long PaintedAt, int WireBytes, int Tiles, long Area, int MinY, TileCost[]? Costs)
{
    /// <summary>
    /// The wire bytes of the operations that draw anywhere but inside <paramref name="area"/> (grown to the 64-pixel
    /// cell grid operations are cut on): what the frame cost for what it covers outside that area.
    /// </summary>
    public long BytesOutside(Vdi.Vmm.Devices.Gpu.GpuRect area)
    {
        var cell = TileCache.MaxTileSize;
        var x0 = area.X / cell * cell;
        var y0 = area.Y / cell * cell;
        var x1 = (area.X + area.Width + cell - 1) / cell * cell;
        var y1 = (area.Y + area.Height + cell - 1) / cell * cell;
        return (Costs ?? throw new InvalidOperationException("this viewer does not record operation costs"))
            .Where(t => t.X < x0 || t.Y < y0 || t.X + t.Width > x1 || t.Y + t.Height > y1)
            .Sum(t => (long)t.Bytes);
    }
}

/// <summary>One drawing operation's rectangle and its exact share of the frame's MessagePack bytes.</summary>
internal readonly record struct TileCost(int X, int Y, int Width, int Height, int Bytes);

/// <summary>
/// A viewer on the official .NET SignalR client (MessagePack over WebSockets on loopback), like the web client: it
/// paints each frame (applies every operation in order with SkiaSharp — decodes images, keeps and paints tile-cache
/// slots, copies within its own picture) before acknowledging it, or — for the scale runs — acknowledges on arrival
/// without painting. Wire bytes are the MessagePack invocation's exact size.
/// </summary>
internal sealed class HubViewer : IAsyncDisposable
{
    private static readonly MessagePackHubProtocol s_protocol = new();

    private readonly HubConnection _connection;
    private readonly bool _paint;
    private readonly Lock _gate = new();
    private readonly List<FrameRecord> _frames = [];
    private readonly List<(Func<FrameRecord, bool> Match, TaskCompletionSource<FrameRecord> Done)> _waiters = [];
    private readonly SKBitmap?[] _slots = new SKBitmap?[TileCache.Slots];
    private SKBitmap? _framebuffer;
    private long _paintTicks;

    private HubViewer(HubConnection connection, bool paint)
    {
        _connection = connection;
        _paint = paint;
        connection.On<FrameUpdate>(nameof(IDesktopHubClient.FrameUpdate), OnFrameAsync);
    }

    public IReadOnlyList<FrameRecord> Frames
    {
        get
        {
            lock (_gate)
                return [.. _frames];
        }
    }

    /// <summary>Time this viewer spent decoding and drawing (its own CPU, not the server's).</summary>
    public TimeSpan PaintTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _paintTicks));

    public static Task<HubViewer> ConnectAsync(HarnessBroker broker, string token, ClientDisplay display, bool paint) =>
        ConnectAsync(broker.BaseAddress, broker.Cookies, token, display, paint);

    /// <param name="desktop">In the hub's address, as the web client puts it (a cluster's host forwards the connection to the desktop's).</param>
    public static async Task<HubViewer> ConnectAsync(Uri baseAddress, System.Net.CookieContainer cookies, string token, ClientDisplay display, bool paint, Guid? desktop = null)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(baseAddress, "hubs/desktop" + (desktop is { } id ? $"?desktop={id}" : "")), o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
                o.Cookies = cookies;
            })
            .AddMessagePackProtocol()
            .Build();
        var viewer = new HubViewer(connection, paint);
        await connection.StartAsync();
        await connection.InvokeAsync<ModeChanged>("Connect", token, display);
        return viewer;
    }

    /// <summary>The first frame from now on that <paramref name="match"/> accepts (or already got, with <paramref name="orEarlier"/>).</summary>
    public Task<FrameRecord> NextAsync(Func<FrameRecord, bool> match, TimeSpan timeout, bool orEarlier = false)
    {
        var done = new TaskCompletionSource<FrameRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (orEarlier && _frames.FirstOrDefault(match) is { FrameId: > 0 } seen)
                return Task.FromResult(seen);
            _waiters.Add((match, done));
        }
        return done.Task.WaitAsync(timeout);
    }

    /// <summary>The first frame of a <paramref name="width"/>x<paramref name="height"/> mode, whenever it came.</summary>
    public Task<FrameRecord> FrameOfAsync(int width, int height) =>
        NextAsync(f => f.Width == width && f.Height == height, TimeSpan.FromSeconds(30), orEarlier: true);

    public Task ChangeDisplayAsync(ClientDisplay display) => _connection.InvokeAsync("ChangeDisplay", new DisplayChanged(display));

    public Task KeyAsync(string code, bool down) => _connection.SendAsync("SendKey", new KeyEvent(code, "", down));

    public void ClearFrames()
    {
        lock (_gate)
            _frames.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _framebuffer?.Dispose();
        foreach (var slot in _slots)
            slot?.Dispose();
    }

    private async Task OnFrameAsync(FrameUpdate frame)
    {
        var received = Stopwatch.GetTimestamp();
        if (_paint)
            Paint(frame);
        var painted = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _paintTicks, painted - received);
        await _connection.SendAsync("Ack", new FrameAck(frame.FrameId));

        var record = new FrameRecord(
            frame.FrameId, frame.Width, frame.Height, received, painted, WireSize(frame), frame.Tiles.Length,
            frame.Tiles.Sum(t => (long)t.Width * t.Height), frame.Tiles.Length == 0 ? 0 : frame.Tiles.Min(t => t.Y), _paint ? Costs(frame) : null);
        List<TaskCompletionSource<FrameRecord>> finished = [];
        lock (_gate)
        {
            _frames.Add(record);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(record))
                {
                    finished.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }
        foreach (var done in finished)
            done.TrySetResult(record);
    }

    private void Paint(FrameUpdate frame)
    {
        if (_framebuffer is null || _framebuffer.Width != frame.Width || _framebuffer.Height != frame.Height)
        {
            _framebuffer?.Dispose();
            _framebuffer = new SKBitmap(frame.Width, frame.Height, SKColorType.Bgra8888, SKAlphaType.Opaque);
        }
        using var canvas = new SKCanvas(_framebuffer);
        foreach (var tile in frame.Tiles)
        {
            switch (tile.Encoding)
            {
                case TileEncodings.Copy:
                    using (var area = new SKBitmap(tile.Width, tile.Height, SKColorType.Bgra8888, SKAlphaType.Opaque))
                    {
                        _framebuffer.ExtractSubset(area, SKRectI.Create(tile.SourceX, tile.SourceY, tile.Width, tile.Height));
                        using var copy = area.Copy();
                        canvas.DrawBitmap(copy, tile.X, tile.Y);
                    }
                    break;
                case TileEncodings.Cache:
                    var kept = _slots[tile.Slot] ?? throw new InvalidOperationException($"slot {tile.Slot} was never filled");
                    canvas.DrawBitmap(kept, SKRect.Create(tile.Width, tile.Height), SKRect.Create(tile.X, tile.Y, tile.Width, tile.Height));
                    break;
                default:
                    var image = SKBitmap.Decode(tile.Data) ?? throw new InvalidOperationException($"tile {tile.Encoding} at {tile.X},{tile.Y} does not decode");
                    canvas.DrawBitmap(image, tile.X, tile.Y);
                    if (tile.Slot != TileCache.NoSlot)
                    {
                        _slots[tile.Slot]?.Dispose();
                        _slots[tile.Slot] = image;
                    }
                    else
                    {
                        image.Dispose();
                    }
                    break;
            }
        }
    }

    /// <summary>Each operation's exact bytes: the frame serialized with that operation alone, less the frame without any.</summary>
    private static TileCost[] Costs(FrameUpdate frame)
    {
        var empty = WireSize(frame with { Tiles = [] });
        return [.. frame.Tiles.Select(t => new TileCost(t.X, t.Y, t.Width, t.Height, WireSize(frame with { Tiles = [t] }) - empty))];
    }

    private static int WireSize(FrameUpdate frame)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        s_protocol.WriteMessage(new InvocationMessage(nameof(IDesktopHubClient.FrameUpdate), [frame]), buffer);
        return buffer.WrittenCount;
    }
}
