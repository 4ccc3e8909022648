namespace Vdi.Protocol;

/// <summary>
/// The ranges a client display is checked against. They match the VMM's display device
/// (<c>Vdi.Vmm.Devices.Display.DisplayProperties</c>); a desktop may lower the maximum size.
/// </summary>
public static class DisplayLimits
{
    public const int MinWidth = 320;
    public const int MinHeight = 200;

    /// <summary>8K UHD, the largest mode the display device supports.</summary>
    public const int MaxWidth = 7680;

    /// <inheritdoc cref="MaxWidth"/>
    public const int MaxHeight = 4320;

    public const double MaxDevicePixelRatio = 10;
    public const double MinDpi = 24;
    public const double MaxDpi = 1200;
    public const double MaxPhysicalMm = 10_000;
    public const double MinRefreshHz = 1;
    public const double MaxRefreshHz = 360;

    /// <summary>CSS reference density: one CSS pixel at device pixel ratio 1.</summary>
    public const double CssDpi = 96;

    public const double MmPerInch = 25.4;
}
