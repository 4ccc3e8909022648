using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using Vdi.Protocol;
using Vdi.WebClient.Display;
using Vdi.WebClient.Input;
using Vdi.WebClient.Transport;

namespace Vdi.WebClient.Pages;

/// <summary>
/// A desktop in the whole window: measures the display, opens a session at exactly that size,
/// paints frames and forwards input. The hot path lives in <c>viewer.js</c> (<see cref="ViewerSurface"/>).
/// </summary>
public sealed partial class Viewer
{
    private readonly ViewerStats _stats = new();
    private readonly InputBridge _input = new();
    private ElementReference _host;
    private ElementReference _canvas;
    private ElementReference _cursor;
    private DotNetObjectReference<InputBridge>? _inputRef;
    private ViewerSurface? _surface;
    private DesktopConnection? _connection;
    private DesktopSummary? _desktop;
    private MeasuredDisplay _measured;
    private ClientDisplay? _lastSent;
    private string? _clientName;
    private ModeChanged? _mode;
    private ConnectionStatus _status = ConnectionStatus.Connecting;
    private string? _ended;
    private string? _endReason;
    private string? _error;
    private bool _overlayVisible;

    [Parameter]
    public Guid Id { get; set; }

    /// <summary>View only (administrators): a shadow session that never changes the display and sends no input.</summary>
    [SupplyParameterFromQuery(Name = "shadow")]
    public bool Shadow { get; set; }

    [Inject]
    private ApiClient Api { get; set; } = default!;

    [Inject]
    private NavigationManager Nav { get; set; } = default!;

    [Inject]
    private IJSRuntime Js { get; set; } = default!;

    private string StatusText => _status.ToString().ToLowerInvariant();

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender)
            return;
        try
        {
            _desktop = (await Api.GetDesktopsAsync()).FirstOrDefault(d => d.Id == Id);
        }
        catch (ApiException e) when (e.IsUnauthorized)
        {
            Nav.NavigateTo($"signin?returnUrl={Uri.EscapeDataString(Nav.ToBaseRelativePath(Nav.Uri))}");
            return;
        }
        catch (ApiException e) when (e.Status == System.Net.HttpStatusCode.Forbidden)
        {
            // Shadowing someone else's desktop: the admin may not be listed as its user; limits default.
        }

        _inputRef = DotNetObjectReference.Create(_input);
        _surface = await ViewerSurface.CreateAsync(Js, _host, _canvas, _cursor, _inputRef, inputEnabled: !Shadow);
        _measured = await _surface.MeasureAsync();
        _clientName = await _surface.DescribeClientAsync();
        _input.Key += k => _connection?.SendKeyAsync(k) ?? Task.CompletedTask;
        _input.Pointer += p => _connection?.SendPointerAsync(p) ?? Task.CompletedTask;
        _input.DisplayChanged += OnDisplayChangedAsync;
        await _surface.FocusAsync();
        await ConnectAsync();
    }

    private async Task ConnectAsync()
    {
        _stats.Reset();
        _connection = new DesktopConnection(new Uri(Nav.BaseUri + "hubs/desktop"), OpenSessionAsync, CurrentDisplay);
        _connection.Frame += OnFrameAsync;
        _connection.Mode += OnModeAsync;
        _connection.Cursor += c => _surface!.SetCursorAsync(c).AsTask();
        _connection.CursorMoved += m => _surface!.MoveCursorAsync(m).AsTask();
        _connection.Ended += OnEndedAsync;
        _connection.StatusChanged += OnStatusAsync;
        await _connection.StartAsync();
    }

    private Task<CreateSessionResponse> OpenSessionAsync()
    {
        var display = CurrentDisplay();
        _lastSent = display;
        return Shadow ? Api.ShadowAsync(Id) : Api.CreateSessionAsync(Id, display, _clientName);
    }

    private ClientDisplay CurrentDisplay() =>
        _measured.ToClientDisplay(_desktop?.MaxWidth ?? DisplayLimits.MaxWidth, _desktop?.MaxHeight ?? DisplayLimits.MaxHeight);

    private async Task OnFrameAsync(FrameUpdate frame)
    {
        var bytes = 0;
        foreach (var tile in frame.Tiles ?? [])
            bytes += tile.Data?.Length ?? 0;
        var failed = await _surface!.DrawFrameAsync(frame);
        _stats.FramePainted(bytes, failed);
        // Acknowledge after painting; the round trip is the latency shown. Not awaited, so the
        // next message is handled as soon as it arrives.
        _ = AckAsync(frame.FrameId);
        if (_mode is null || _mode.Width != frame.Width || _mode.Height != frame.Height)
        {
            // A frame is drawn at the mode it names; the overlay follows it.
            _mode = new ModeChanged(frame.Width, frame.Height, _mode?.Dpi ?? 0);
            await InvokeAsync(StateHasChanged);
        }
    }

    private async Task AckAsync(long frameId)
    {
        if (await _connection!.AckAsync(frameId) is { } roundTrip)
            _stats.AckRoundTrip(roundTrip);
    }

    private async Task OnModeAsync(ModeChanged mode)
    {
        _mode = mode;
        await _surface!.SetModeAsync(mode.Width, mode.Height);
        await InvokeAsync(StateHasChanged);
    }

    private Task OnDisplayChangedAsync(MeasuredDisplay measured)
    {
        _measured = measured;
        var display = CurrentDisplay();
        // Echo-free: only a display that differs from the last one reported goes to the server.
        if (Shadow || _connection is not { Status: ConnectionStatus.Connected } || display == _lastSent)
            return Task.CompletedTask;
        _lastSent = display;
        return _connection.ChangeDisplayAsync(display);
    }

    private async Task OnEndedAsync(SessionEnded ended)
    {
        // The server's message says it all (a take-over names the device that took over); the reason is kept for the page.
        _endReason = ended.Reason;
        _ended = string.IsNullOrWhiteSpace(ended.Message) ? EndedText(ended.Reason) : ended.Message;
        if (_surface is not null)
            await _surface.SetEndedAsync(ended.Reason);
        await InvokeAsync(StateHasChanged);
    }

    private static string EndedText(string reason) => reason switch
    {
        SessionEndReasons.TakenOver => "This desktop was opened on another device.",
        SessionEndReasons.DesktopStopped => "The desktop was stopped.",
        SessionEndReasons.DisconnectedByAdmin => "An administrator ended this session.",
        _ => "This session ended.",
    };

    private Task OnStatusAsync(ConnectionStatus status, string? reason)
    {
        _status = status;
        if (status is ConnectionStatus.Failed or ConnectionStatus.Disconnected)
            _error = reason;
        return InvokeAsync(StateHasChanged);
    }

    private async Task ToggleOverlayAsync()
    {
        _overlayVisible = !_overlayVisible;
        if (_surface is not null)
            await _surface.FocusAsync();
    }

    private async Task ReopenAsync()
    {
        if (_connection is not null)
            await _connection.DisposeAsync();
        _ended = null;
        _error = null;
        _mode = null;
        if (_surface is not null)
        {
            _measured = await _surface.MeasureAsync();
            await _surface.SetEndedAsync(null);
            await _surface.SetInputEnabledAsync(!Shadow);
        }
        await ConnectAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
            await _connection.DisposeAsync();
        if (_surface is not null)
            await _surface.DisposeAsync();
        _inputRef?.Dispose();
    }
}
