using System.Text.Json.Serialization;
using Vdi.Protocol.Internal;

namespace Vdi.Protocol;

/// <summary>
/// The display a browser reports when it connects and whenever it changes: the canvas size in
/// device pixels and what the browser knows about density, physical size and refresh rate.
/// The server sizes the desktop's display mode and EDID from it.
/// </summary>
/// <param name="Width">Width in device pixels (CSS width × devicePixelRatio, rounded by the client).</param>
/// <param name="Height">Height in device pixels.</param>
/// <param name="DevicePixelRatio">The browser's <c>window.devicePixelRatio</c>.</param>
/// <param name="Dpi">Device pixels per inch, when the client knows it (native shells, user setting).</param>
/// <param name="WidthMm">Physical width of the area in mm, when known; given together with <paramref name="HeightMm"/>.</param>
/// <param name="HeightMm">Physical height of the area in mm, when known.</param>
/// <param name="RefreshHz">Refresh rate, when known.</param>
/// <remarks>
/// In JSON, <c>width</c> and <c>height</c> must be whole numbers: a value such as <c>1280.5</c>
/// fails deserialization with a message naming the field (see <see cref="ProtocolJson"/>).
/// </remarks>
public sealed record ClientDisplay(
    [property: JsonConverter(typeof(DevicePixelsJsonConverter))] int Width,
    [property: JsonConverter(typeof(DevicePixelsJsonConverter))] int Height,
    double DevicePixelRatio,
    double? Dpi = null,
    double? WidthMm = null,
    double? HeightMm = null,
    double? RefreshHz = null)
{
    /// <summary>The JSON name of a display inside requests and messages; the prefix of its field paths.</summary>
    public const string FieldName = "display";

    /// <summary>
    /// The density to lay the desktop out for: <see cref="Dpi"/> if given, else derived from the
    /// physical width, else the CSS reference density (96) scaled by <see cref="DevicePixelRatio"/>.
    /// Values that would fail <see cref="Validate"/> are skipped, so the result is always positive
    /// and finite for a display whose device pixel ratio is valid.
    /// </summary>
    public double EffectiveDpi()
    {
        if (Dpi is { } dpi && IsPositiveFinite(dpi))
            return dpi;
        if (WidthMm is { } widthMm && IsPositiveFinite(widthMm) && Width > 0)
            return Width / (widthMm / DisplayLimits.MmPerInch);
        return DisplayLimits.CssDpi * DevicePixelRatio;
    }

    /// <summary>Checks every field; an empty list means the display is acceptable.</summary>
    /// <param name="display">The display as received; null is reported as missing.</param>
    /// <param name="maxWidth">The largest width the desktop accepts, in device pixels.</param>
    /// <param name="maxHeight">The largest height the desktop accepts, in device pixels.</param>
    public static IReadOnlyList<ValidationError> Validate(
        ClientDisplay? display, int maxWidth = DisplayLimits.MaxWidth, int maxHeight = DisplayLimits.MaxHeight)
    {
        if (display is null)
            return [new ValidationError(FieldName, "display is required")];

        var errors = new List<ValidationError>();
        CheckPixels(errors, "width", display.Width, DisplayLimits.MinWidth, maxWidth);
        CheckPixels(errors, "height", display.Height, DisplayLimits.MinHeight, maxHeight);

        if (!double.IsFinite(display.DevicePixelRatio) || display.DevicePixelRatio <= 0
            || display.DevicePixelRatio > DisplayLimits.MaxDevicePixelRatio)
        {
            Add(errors, "devicePixelRatio", Invariant.Format(
                $"must be a finite number greater than 0 and at most {DisplayLimits.MaxDevicePixelRatio} (was {display.DevicePixelRatio})"));
        }

        if (display.Dpi is { } dpi && !InRange(dpi, DisplayLimits.MinDpi, DisplayLimits.MaxDpi))
        {
            Add(errors, "dpi", Invariant.Format(
                $"must be a finite number from {DisplayLimits.MinDpi} to {DisplayLimits.MaxDpi} when given (was {dpi})"));
        }

        CheckMm(errors, "widthMm", display.WidthMm);
        CheckMm(errors, "heightMm", display.HeightMm);
        if (display.WidthMm.HasValue != display.HeightMm.HasValue)
        {
            var (missing, given) = display.WidthMm.HasValue ? ("heightMm", "widthMm") : ("widthMm", "heightMm");
            Add(errors, missing, $"must be given together with {FieldName}.{given}");
        }

        if (display.RefreshHz is { } hz && !InRange(hz, DisplayLimits.MinRefreshHz, DisplayLimits.MaxRefreshHz))
        {
            Add(errors, "refreshHz", Invariant.Format(
                $"must be a finite number from {DisplayLimits.MinRefreshHz} to {DisplayLimits.MaxRefreshHz} when given (was {hz})"));
        }

        return errors;
    }

    private static void CheckPixels(List<ValidationError> errors, string field, int value, int min, int max)
    {
        if (value < min || value > max)
            Add(errors, field, Invariant.Format($"must be a whole number of device pixels from {min} to {max} (was {value})"));
    }

    private static void CheckMm(List<ValidationError> errors, string field, double? value)
    {
        if (value is { } mm && (!IsPositiveFinite(mm) || mm > DisplayLimits.MaxPhysicalMm))
        {
            Add(errors, field, Invariant.Format(
                $"must be a finite number greater than 0 and at most {DisplayLimits.MaxPhysicalMm} mm when given (was {mm})"));
        }
    }

    private static void Add(List<ValidationError> errors, string field, string requirement)
    {
        var path = FieldName + "." + field;
        errors.Add(new ValidationError(path, path + " " + requirement));
    }

    private static bool InRange(double value, double min, double max) =>
        double.IsFinite(value) && value >= min && value <= max;

    private static bool IsPositiveFinite(double value) => double.IsFinite(value) && value > 0;
}
