using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using Vdi.Protocol;
using Vdi.WebClient.Input;

namespace Vdi.WebClient.Display;

/// <summary>
/// The .NET side of <c>wwwroot/js/viewer.js</c>: paints frames and the cursor on the canvas and
/// reports what the browser measures. Tile bytes cross the boundary as <c>Uint8Array</c>s; input
/// comes back through <see cref="InputBridge"/>.
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

    public static async Task<ViewerSurface> CreateAsync(
        IJSRuntime js, ElementReference host, ElementReference canvas, ElementReference cursor,
        DotNetObjectReference<InputBridge> input, bool inputEnabled)
    {
        ArgumentNullException.ThrowIfNull(js);
        var module = await js.InvokeAsync<IJSObjectReference>("import", s_modulePath).ConfigureAwait(false);
        // Only keys the desktop can take are captured (and kept from the browser).
        var codes = DomKeyCodes.All.Keys.ToArray();
        var viewer = await module.InvokeAsync<IJSObjectReference>("create", host, canvas, cursor, input, codes, inputEnabled).ConfigureAwait(false);
        return new ViewerSurface(module, viewer);
    }

    /// <summary>The area to fill: device pixels and the device pixel ratio, as measured now.</summary>
    public async Task<MeasuredDisplay> MeasureAsync()
    {
        var m = await _viewer.InvokeAsync<double[]>("measure").ConfigureAwait(false);
        return new MeasuredDisplay((int)m[0], (int)m[1], m[2]);
    }

    public ValueTask<string> DescribeClientAsync() => _module.InvokeAsync<string>("describeClient");

    public ValueTask SetModeAsync(int width, int height) => _viewer.InvokeVoidAsync("setMode", width, height);

    /// <summary>
    /// Applies every tile in order; completes once they are on the canvas. Returns how many tiles
    /// were invalid (<see cref="FrameValidator"/>: skipped without reaching the canvas) or failed to decode.
    /// </summary>
    public async ValueTask<int> DrawFrameAsync(FrameUpdate frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var all = frame.Tiles ?? [];
        var tiles = all.Where(t => FrameValidator.Validate(t, frame.Width, frame.Height) is null).ToArray();
        var invalid = all.Length - tiles.Length;
        var failed = await _viewer.InvokeAsync<int>("drawFrame", frame.Width, frame.Height,
            tiles.Select(t => t.X).ToArray(), tiles.Select(t => t.Y).ToArray(),
            tiles.Select(t => t.Width).ToArray(), tiles.Select(t => t.Height).ToArray(),
            tiles.Select(t => t.Encoding).ToArray(), tiles.Select(t => t.Slot).ToArray(),
            tiles.Select(t => t.SourceX).ToArray(), tiles.Select(t => t.SourceY).ToArray(),
            tiles.Select(t => t.Data ?? []).ToArray()).ConfigureAwait(false);
        return invalid + failed;
    }

    public ValueTask SetCursorAsync(CursorUpdate cursor)
    {
        ArgumentNullException.ThrowIfNull(cursor);
        return _viewer.InvokeVoidAsync("setCursor", cursor.Png, cursor.HotX, cursor.HotY, cursor.Width, cursor.Height);
    }

    public ValueTask MoveCursorAsync(CursorMove move)
    {
        ArgumentNullException.ThrowIfNull(move);
        return _viewer.InvokeVoidAsync("moveCursor", move.X, move.Y);
    }

    public ValueTask SetInputEnabledAsync(bool enabled) => _viewer.InvokeVoidAsync("setInputEnabled", enabled);

    /// <summary>The session ended: input off, the picture dimmed as not live, the reason on the viewport (<c>data-ended</c>); null: live again.</summary>
    public ValueTask SetEndedAsync(string? reason) => _viewer.InvokeVoidAsync("setEnded", reason);

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
