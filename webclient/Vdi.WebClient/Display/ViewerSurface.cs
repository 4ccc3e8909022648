using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using Vdi.Protocol;

namespace Vdi.WebClient.Display;

/// <summary>
/// The .NET face of <c>wwwroot/js/viewer.js</c>, which runs the viewer's hot path (hub connection,
/// painting, input, display changes) on its own. .NET measures once, hands over the session token, and
/// hears back only low-rate things on the <see cref="DotNetObjectReference{T}"/> it passes in.
/// </summary>
public sealed class ViewerSurface : IAsyncDisposable
{
    /// <summary>The module's URL, unique per build so a browser never pairs new .NET code with a cached old module.</summary>
    private static readonly string s_modulePath = $"./js/viewer.js?v={typeof(ViewerSurface).Assembly.ManifestModule.ModuleVersionId:N}";

    private readonly IJSObjectReference _module;
    private readonly IJSObjectReference _viewer;

    private ViewerSurface(IJSObjectReference module, IJSObjectReference viewer)
    {
        _module = module;
        _viewer = viewer;
    }

    /// <param name="js">The page's JS runtime.</param>
    /// <param name="elements">The viewport that fills the window, the canvas and the guest cursor's element.</param>
    /// <param name="callbacks">Receives <c>OnStatus</c>, <c>OnEnded</c>, <c>OnStats</c> and <c>OpenSession</c>.</param>
    /// <param name="hubUrl">The absolute URL of <c>/hubs/desktop</c>.</param>
    /// <param name="limits">The largest mode the desktop takes.</param>
    /// <param name="inputEnabled">False for a view-only shadow: no input and no display changes.</param>
    public static async Task<ViewerSurface> CreateAsync<T>(
        IJSRuntime js, (ElementReference Host, ElementReference Canvas, ElementReference Cursor) elements,
        DotNetObjectReference<T> callbacks, Uri hubUrl, (int MaxWidth, int MaxHeight) limits, bool inputEnabled)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(js);
        ArgumentNullException.ThrowIfNull(hubUrl);
        var module = await js.InvokeAsync<IJSObjectReference>("import", s_modulePath).ConfigureAwait(false);
        // Only keys the desktop can take are captured (and kept from the browser).
        var knownCodes = DomKeyCodes.All.Keys.ToArray();
        double[] displayLimits = [DisplayLimits.MinWidth, DisplayLimits.MinHeight, limits.MaxWidth, limits.MaxHeight, DisplayLimits.MaxDevicePixelRatio];
        var viewer = await module.InvokeAsync<IJSObjectReference>(
            "create", elements.Host, elements.Canvas, elements.Cursor, callbacks, hubUrl.ToString(), knownCodes, inputEnabled, displayLimits).ConfigureAwait(false);
        return new ViewerSurface(module, viewer);
    }

    /// <summary>The display to open a session for: the window in device pixels, within the desktop's limits.</summary>
    public async Task<ClientDisplay> MeasureAsync()
    {
        var m = await _viewer.InvokeAsync<double[]>("measure").ConfigureAwait(false);
        return new ClientDisplay((int)m[0], (int)m[1], m[2]);
    }

    public ValueTask<string> DescribeClientAsync() => _module.InvokeAsync<string>("describeClient");

    /// <summary>Connects the session (made for the display last measured); from here on the viewer runs in JS.</summary>
    public ValueTask ConnectAsync(string connectToken) => _viewer.InvokeVoidAsync("connect", connectToken);

    public ValueTask FocusAsync() => _viewer.InvokeVoidAsync("focus");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _viewer.InvokeVoidAsync("dispose").ConfigureAwait(false);
            await _viewer.DisposeAsync().ConfigureAwait(false);
            await _module.DisposeAsync().ConfigureAwait(false);
        }
        catch (JSDisconnectedException)
        {
            // The page is gone; nothing left to release.
        }
    }
}
