using System.Globalization;

namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// The display a browser client reports: its size in device pixels, its density and refresh rate,
/// and optionally its physical size. The virtio-gpu display is reconfigured to match it, and the
/// EDID the guest reads is generated from it (<see cref="EdidGenerator"/>).
/// </summary>
/// <param name="Width">Active width in device pixels; odd widths are allowed.</param>
/// <param name="Height">Active height in device pixels.</param>
/// <param name="Dpi">Device pixels per inch; used for the physical size unless <see cref="WidthMm"/>/<see cref="HeightMm"/> are given.</param>
/// <param name="RefreshHz">Vertical refresh rate in Hz.</param>
public sealed record DisplayProperties(int Width, int Height, double Dpi = 96, int RefreshHz = 60)
{
    public const int MinWidth = 320;
    public const int MinHeight = 200;
    public const double MinDpi = 24;
    public const double MaxDpi = 1200;
    public const int MinRefreshHz = 1;
    public const int MaxRefreshHz = 360;
    public const int MaxPhysicalMm = 10_000;

    private const double MmPerInch = 25.4;

    /// <summary>Physical width in mm when the client knows it; overrides the DPI-derived width.</summary>
    public int? WidthMm { get; init; }

    /// <summary>Physical height in mm when the client knows it; overrides the DPI-derived height.</summary>
    public int? HeightMm { get; init; }

    /// <summary><see cref="WidthMm"/> if given, else <c>round(Width / Dpi × 25.4)</c>.</summary>
    public int EffectiveWidthMm => WidthMm ?? PixelsToMm(Width, Dpi);

    /// <summary><see cref="HeightMm"/> if given, else <c>round(Height / Dpi × 25.4)</c>.</summary>
    public int EffectiveHeightMm => HeightMm ?? PixelsToMm(Height, Dpi);

    /// <summary>Checks every field against its range and the device's size limits.</summary>
    /// <returns>Null when valid, else a message naming the first bad field and why.</returns>
    public static string? Validate(DisplayProperties p, int maxWidth = DisplayLimits.DefaultMaxWidth, int maxHeight = DisplayLimits.DefaultMaxHeight) =>
        Check(p, maxWidth, maxHeight)?.Message;

    /// <summary>
    /// The device's rules, the one place they are stated: the broker checks a client's display with them
    /// before the device sees it, so a refusal can name the client's field.
    /// </summary>
    /// <returns>Null when valid, else the first bad property (its name in this record) and why.</returns>
    public static DisplayPropertyError? Check(DisplayProperties p, int maxWidth = DisplayLimits.DefaultMaxWidth, int maxHeight = DisplayLimits.DefaultMaxHeight)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.Width < MinWidth || p.Width > maxWidth)
            return new(nameof(Width), Invariant($"Width must be between {MinWidth} and {maxWidth} pixels (was {p.Width})."));
        if (p.Height < MinHeight || p.Height > maxHeight)
            return new(nameof(Height), Invariant($"Height must be between {MinHeight} and {maxHeight} pixels (was {p.Height})."));
        if (!double.IsFinite(p.Dpi) || p.Dpi < MinDpi || p.Dpi > MaxDpi)
            return new(nameof(Dpi), Invariant($"Dpi must be a finite number between {MinDpi} and {MaxDpi} (was {p.Dpi})."));
        if (p.RefreshHz < MinRefreshHz || p.RefreshHz > MaxRefreshHz)
            return new(nameof(RefreshHz), Invariant($"RefreshHz must be between {MinRefreshHz} and {MaxRefreshHz} Hz (was {p.RefreshHz})."));
        if (p.WidthMm is { } widthMm && (widthMm <= 0 || widthMm > MaxPhysicalMm))
            return new(nameof(WidthMm), Invariant($"WidthMm must be positive and at most {MaxPhysicalMm} mm when given (was {widthMm})."));
        if (p.HeightMm is { } heightMm && (heightMm <= 0 || heightMm > MaxPhysicalMm))
            return new(nameof(HeightMm), Invariant($"HeightMm must be positive and at most {MaxPhysicalMm} mm when given (was {heightMm})."));
        return null;
    }

    /// <inheritdoc cref="Validate(DisplayProperties, int, int)"/>
    public static string? Validate(DisplayProperties p, DisplayLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return Validate(p, limits.MaxWidth, limits.MaxHeight);
    }

    private static int PixelsToMm(int pixels, double dpi) =>
        (int)Math.Round(pixels / dpi * MmPerInch, MidpointRounding.AwayFromZero);

    private static string Invariant(FormattableString message) => message.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A display property the device refuses: its name in <see cref="DisplayProperties"/> and why.</summary>
public sealed record DisplayPropertyError(string Property, string Message);

/// <summary>The largest display a device accepts (8K UHD by default).</summary>
public sealed record DisplayLimits(int MaxWidth = DisplayLimits.DefaultMaxWidth, int MaxHeight = DisplayLimits.DefaultMaxHeight)
{
    public const int DefaultMaxWidth = 7680;
    public const int DefaultMaxHeight = 4320;

    public static DisplayLimits Default { get; } = new();
}
