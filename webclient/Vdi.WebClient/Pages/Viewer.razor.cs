using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using Vdi.Protocol;
using Vdi.WebClient.Display;
using Vdi.WebClient.Transport;

namespace Vdi.WebClient.Pages;

/// <summary>
/// A desktop in the whole window: measures the display, opens a session at exactly that size and hands
/// its token to <c>viewer.js</c> (<see cref="ViewerSurface"/>), which connects the hub, paints frames and
/// forwards input by itself. This page shows what that JS reports at a low rate: status, the end of the
/// session, figures; and opens a new session when the JS reconnects.
/// </summary>
public sealed partial class Viewer
{
    private ElementReference _host;
    private ElementReference _canvas;
    private ElementReference _cursor;
    private DotNetObjectReference<Viewer>? _self;
    private ViewerSurface? _surface;
    private DesktopSummary? _desktop;
    private string? _clientName;
    private ConnectionStatus _status = ConnectionStatus.Connecting;
    private ViewerFigures _figures = ViewerFigures.None;
    private string? _ended;
    private string? _endReason;
    private string? _error;
    private string? _notice; // while reconnecting: why
    private static readonly TimeSpan s_reopenFor = TimeSpan.FromMinutes(2);
    private bool _panelOpen;

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

        _self = DotNetObjectReference.Create(this);
        var limits = (_desktop?.MaxWidth ?? DisplayLimits.MaxWidth, _desktop?.MaxHeight ?? DisplayLimits.MaxHeight);
        // The desktop in the hub's address lets any host of a cluster forward the connection to the host that runs it.
        var hub = new Uri($"{Nav.BaseUri}hubs/desktop?desktop={Id}");
        _surface = await ViewerSurface.CreateAsync(Js, (_host, _canvas, _cursor), _self, hub, limits, inputEnabled: !Shadow);
        _clientName = await _surface.DescribeClientAsync();
        await _surface.FocusAsync();
        await ConnectAsync();
    }

    /// <summary>viewer.js reconnected: a new session for the display it measures now (tokens are single use); null when that failed.</summary>
    [JSInvokable]
    public async Task<string?> OpenSession(int width, int height, double devicePixelRatio)
    {
        // A desktop between hosts (its host died, it starts on another) answers 503 or 409 for a while: the viewer
        // says so and tries again.
        var until = DateTime.UtcNow + s_reopenFor;
        while (true)
        {
            try
            {
                var token = (await OpenSessionAsync(new ClientDisplay(width, height, devicePixelRatio))).ConnectToken;
                _notice = null;
                return token;
            }
            catch (ApiException e) when (e.Status is System.Net.HttpStatusCode.ServiceUnavailable or System.Net.HttpStatusCode.Conflict && DateTime.UtcNow < until)
            {
                (_status, _notice) = (ConnectionStatus.Reconnecting, $"Reconnecting: {e.Message}");
                await InvokeAsync(StateHasChanged);
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            catch (Exception e) when (e is ApiException or HttpRequestException)
            {
                _notice = null;
                Fail(e);
                await InvokeAsync(StateHasChanged);
                return null;
            }
        }
    }

    /// <summary>The connection's status changed (connecting, connected, reconnecting, ended, failed, disconnected); the reason says why.</summary>
    [JSInvokable]
    public Task OnStatus(string status, string? reason)
    {
        if (!Enum.TryParse<ConnectionStatus>(status, ignoreCase: true, out var parsed))
            return Task.CompletedTask;
        _status = parsed;
        if (parsed is ConnectionStatus.Failed or ConnectionStatus.Disconnected)
            _error = reason;
        // Reconnecting: why, when the server said (the desktop moved to another host).
        if (parsed != ConnectionStatus.Reconnecting)
            _notice = null;
        else if (reason is not null)
            _notice = reason;
        return InvokeAsync(StateHasChanged);
    }

    /// <summary>The server ended the session; its message says it all (a take-over names the device that took over).</summary>
    [JSInvokable]
    public Task OnEnded(string reason, string? message)
    {
        _endReason = reason;
        _ended = string.IsNullOrWhiteSpace(message) ? EndedText(reason) : message;
        return InvokeAsync(StateHasChanged);
    }

    /// <summary>The figures, twice a second and whenever the mode changes.</summary>
    [JSInvokable]
    public Task OnStats(int width, int height, int framesPerSecond, double? latencyMs, long bytesPerSecond, long tilesFailed)
    {
        var figures = new ViewerFigures(width, height, framesPerSecond, latencyMs, bytesPerSecond, tilesFailed);
        var modeChanged = figures.Width != _figures.Width || figures.Height != _figures.Height;
        _figures = figures;
        // Closed, the figures are not looked at; the resolution still follows the mode.
        return _panelOpen || modeChanged ? InvokeAsync(StateHasChanged) : Task.CompletedTask;
    }

    private async Task ConnectAsync()
    {
        try
        {
            var display = await _surface!.MeasureAsync();
            var session = await OpenSessionAsync(display);
            await _surface.ConnectAsync(session.ConnectToken);
        }
        catch (Exception e) when (e is ApiException or HttpRequestException)
        {
            Fail(e);
        }
    }

    private Task<CreateSessionResponse> OpenSessionAsync(ClientDisplay display) =>
        Shadow ? Api.ShadowAsync(Id) : Api.CreateSessionAsync(Id, display, _clientName);

    private void Fail(Exception e)
    {
        _status = ConnectionStatus.Failed;
        _error = e is HttpRequestException ? $"Could not reach the broker: {e.Message}" : e.Message;
    }

    private static string EndedText(string reason) => reason switch
    {
        SessionEndReasons.TakenOver => "This desktop was opened on another device.",
        SessionEndReasons.DesktopStopped => "The desktop was stopped.",
        SessionEndReasons.DisconnectedByAdmin => "An administrator ended this session.",
        _ => "This session ended.",
    };

    private async Task TogglePanelAsync()
    {
        _panelOpen = !_panelOpen;
        if (_surface is not null)
            await _surface.FocusAsync();
    }

    private async Task ReopenAsync()
    {
        _ended = null;
        _error = null;
        _status = ConnectionStatus.Connecting;
        if (_surface is not null)
            await ConnectAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_surface is not null)
            await _surface.DisposeAsync();
        _self?.Dispose();
    }
}
