using Vdi.Protocol;

namespace Vdi.WebClient.Display;

/// <summary>What the browser measured: the area to fill in device pixels and its device pixel ratio.</summary>
public readonly record struct MeasuredDisplay(int Width, int Height, double DevicePixelRatio)
{
    /// <summary>
    /// The display to ask for: the measured size within what the desktop accepts (a window smaller
    /// than the minimum mode, or larger than the desktop's maximum, still gets a session).
    /// </summary>
    public ClientDisplay ToClientDisplay(int maxWidth, int maxHeight)
    {
        var dpr = double.IsFinite(DevicePixelRatio) && DevicePixelRatio > 0
            ? Math.Min(DevicePixelRatio, DisplayLimits.MaxDevicePixelRatio)
            : 1;
        return new ClientDisplay(
            Math.Clamp(Width, DisplayLimits.MinWidth, Math.Max(DisplayLimits.MinWidth, maxWidth)),
            Math.Clamp(Height, DisplayLimits.MinHeight, Math.Max(DisplayLimits.MinHeight, maxHeight)),
            dpr);
    }
}
