namespace Vdi.Vmm.Devices.Display;

/// <summary>What <see cref="EdidParser.Parse"/> found in an EDID.</summary>
public sealed record EdidInfo
{
    /// <summary>One entry per 128-byte block read (base first): whether its bytes sum to 0 mod 256.</summary>
    public required IReadOnlyList<bool> BlockChecksumsValid { get; init; }

    /// <summary>Whether the DisplayID section checksum holds; null when there is no DisplayID extension.</summary>
    public bool? DisplayIdChecksumValid { get; init; }

    /// <summary>Every block checksum, and the DisplayID section checksum if present, holds.</summary>
    public bool ChecksumsValid => BlockChecksumsValid.All(valid => valid) && DisplayIdChecksumValid != false;

    /// <summary>Three-letter PNP id, e.g. "VDI"; letters out of range read as '?'.</summary>
    public required string ManufacturerId { get; init; }

    public ushort ProductCode { get; init; }

    public uint SerialNumber { get; init; }

    /// <summary>EDID structure version and revision, e.g. (1, 4).</summary>
    public (byte Version, byte Revision) EdidVersion { get; init; }

    /// <summary>Extension blocks the base block declares (byte 126).</summary>
    public int ExtensionCount { get; init; }

    /// <summary>The first detailed timing descriptor of the base block, when it holds a timing.</summary>
    public DisplayTiming? BaseTiming { get; init; }

    /// <summary>
    /// The preferred mode: the DisplayID Type VII (or Type I) timing flagged preferred when there is
    /// one, else <see cref="BaseTiming"/>.
    /// </summary>
    public DisplayTiming? PreferredTiming { get; init; }

    /// <summary>Whether <see cref="PreferredTiming"/> came from a DisplayID extension.</summary>
    public bool PreferredFromDisplayId { get; init; }

    public int? PreferredWidth => PreferredTiming?.HActive;

    public int? PreferredHeight => PreferredTiming?.VActive;

    public double? PreferredRefreshHz => PreferredTiming?.RefreshHz;

    /// <summary>
    /// Physical width in mm: the image size of the first detailed timing, else the base block's
    /// screen size in cm × 10; null when neither is given. (DisplayID timings carry no image size.)
    /// </summary>
    public int? WidthMm { get; init; }

    /// <inheritdoc cref="WidthMm"/>
    public int? HeightMm { get; init; }

    /// <summary>The monitor name descriptor's text, if any.</summary>
    public string? MonitorName { get; init; }
}
