using SkiaSharp;

namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>
/// What the viewer's canvas shows, from Playwright screenshots. The desktop's top bar holds a clock
/// that ticks every second, so comparisons look only below the bar.
/// </summary>
public sealed class CanvasPixels : IDisposable
{
    private readonly SKBitmap _bitmap;

    private CanvasPixels(SKBitmap bitmap) => _bitmap = bitmap;

    public int Width => _bitmap.Width;

    public int Height => _bitmap.Height;

    public static async Task<CanvasPixels> CaptureAsync(ILocator canvas)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        var png = await canvas.ScreenshotAsync(new LocatorScreenshotOptions { Type = ScreenshotType.Png, Animations = ScreenshotAnimations.Disabled });
        return new CanvasPixels(SKBitmap.Decode(png) ?? throw new InvalidOperationException("the canvas screenshot is not a PNG"));
    }

    /// <summary>Rows from the top that share the colour of the top-left pixel down the left edge: the desktop's top bar.</summary>
    public int TopBarHeight()
    {
        var bar = _bitmap.GetPixel(0, 0);
        var height = 0;
        while (height < _bitmap.Height && _bitmap.GetPixel(0, height) == bar)
            height++;
        return height;
    }

    /// <summary>Whether any pixel at or below row <paramref name="top"/> differs from <paramref name="other"/>.</summary>
    public bool DiffersBelow(CanvasPixels other, int top)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Width != Width || other.Height != Height || other._bitmap.ColorType != _bitmap.ColorType)
            return true;
        var start = top * _bitmap.RowBytes;
        return !_bitmap.GetPixelSpan()[start..].SequenceEqual(other._bitmap.GetPixelSpan()[start..]);
    }

    /// <summary>
    /// Whether the canvas comes to differ from <paramref name="before"/> below its top bar within
    /// <see cref="Site.Timeout"/> (what was typed got painted), looking every 100 ms.
    /// </summary>
    public static async Task<bool> ChangesBelowBarAsync(ILocator canvas, CanvasPixels before)
    {
        ArgumentNullException.ThrowIfNull(before);
        for (var deadline = DateTime.UtcNow + Site.Timeout; DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            using var after = await CaptureAsync(canvas);
            if (after.DiffersBelow(before, before.TopBarHeight()))
                return true;
        }
        return false;
    }

    public void Dispose() => _bitmap.Dispose();
}
