using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Vdi.Protocol;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Hubs;

/// <summary>
/// A hub client viewing a desktop through the official .NET SignalR client: every frame acknowledged and recorded,
/// with how many frames had arrived when the session-ended notice came and whether the server closed the connection.
/// </summary>
internal sealed class LiveViewer : IAsyncDisposable
{
    private readonly TaskCompletionSource<SessionEnded> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<FrameUpdate> _frames = [];
    private int _framesAtEnd = -1;

    private LiveViewer(HubConnection connection, Guid sessionId)
    {
        Connection = connection;
        SessionId = sessionId;
        connection.On<FrameUpdate>("FrameUpdate", async frame =>
        {
            lock (_frames)
                _frames.Add(frame);
            try
            {
                await connection.InvokeAsync("Ack", new FrameAck(frame.FrameId));
            }
            catch (Exception e) when (e is InvalidOperationException or TaskCanceledException or OperationCanceledException)
            {
                // closed meanwhile
            }
        });
        connection.On<SessionEnded>("SessionEnded", ended =>
        {
            lock (_frames)
                _framesAtEnd = _frames.Count;
            _ended.TrySetResult(ended);
        });
        connection.Closed += _ =>
        {
            _closed.TrySetResult();
            return Task.CompletedTask;
        };
    }

    public HubConnection Connection { get; }

    public Guid SessionId { get; }

    public int FrameCount
    {
        get
        {
            lock (_frames)
                return _frames.Count;
        }
    }

    /// <summary>Frames that arrived after the session-ended notice (0 when none did, or no notice came).</summary>
    public int FramesAfterEnd
    {
        get
        {
            lock (_frames)
                return _framesAtEnd < 0 ? 0 : _frames.Count - _framesAtEnd;
        }
    }

    public Task<SessionEnded> Ended => _ended.Task;

    public Task Closed => _closed.Task;

    public static async Task<(Guid SessionId, string Token)> CreateAsync(HttpClient api, Guid desktopId, ClientDisplay display, string clientName)
    {
        var created = await api.PostAsJsonAsync("/api/sessions", new CreateSessionRequest(desktopId, display, clientName));
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<CreateSessionResponse>())!;
        return (session.SessionId, session.ConnectToken);
    }

    public static async Task<LiveViewer> OpenAsync(BrokerFactory factory, HttpClient api, Guid desktopId, ClientDisplay display, string clientName = "test")
    {
        var (sessionId, token) = await CreateAsync(api, desktopId, display, clientName);
        return await ConnectAsync(factory, sessionId, token, display);
    }

    /// <summary>Connects the session of <paramref name="token"/> (from <c>POST /api/sessions</c> or <c>…/shadow</c>).</summary>
    public static async Task<LiveViewer> ConnectAsync(BrokerFactory factory, Guid sessionId, string token, ClientDisplay display) =>
        await ConnectAsync(await factory.HubAsync(), sessionId, token, display);

    /// <summary>Connects the session of <paramref name="token"/> over <paramref name="connection"/> (not yet started; any server).</summary>
    public static async Task<LiveViewer> ConnectAsync(HubConnection connection, Guid sessionId, string token, ClientDisplay display)
    {
        var viewer = new LiveViewer(connection, sessionId);
        await viewer.Connection.StartAsync();
        await viewer.Connection.InvokeAsync<ModeChanged>("Connect", token, display);
        return viewer;
    }

    public async Task<FrameUpdate> FrameOfAsync(int width, int height)
    {
        for (var i = 0; i < 200; i++)
        {
            lock (_frames)
            {
                if (_frames.LastOrDefault(f => f.Width == width && f.Height == height) is { } frame)
                    return frame;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no {width}x{height} frame");
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
