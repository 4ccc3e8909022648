namespace Vdi.Server.Display;

/// <summary>Tuning of a <see cref="DesktopStream"/>.</summary>
public sealed record DesktopStreamOptions
{
    /// <summary>How tiles are cut and encoded.</summary>
    public TileEncoderOptions Encoder { get; init; } = new();

    /// <summary>Most damage rectangles kept between versions before snapping to the tile grid.</summary>
    public int MaxDamageRectangles { get; init; } = 32;

    /// <summary>
    /// After areas went out as JPEG and then stopped changing for this long, they are sent again as
    /// PNG so a settled screen is pixel-exact. Null turns the refresh off.
    /// </summary>
    public TimeSpan? LosslessRefreshDelay { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Encode a version's tiles on several cores when it holds enough pixels (<see cref="FrameComposer.ParallelMinPixels"/>).
    /// Off by default: on two shared cores, where the guest's vCPUs want the other core too, the pump benchmark
    /// measured no gain (see README); turn on for hosts with idle cores.
    /// </summary>
    public bool ParallelEncoding { get; init; }

    /// <summary>Recent versions kept for viewers that are behind, at most this many…</summary>
    public int MaxVersions { get; init; } = 120;

    /// <summary>…and at most this many encoded bytes (the newest version is always kept).</summary>
    public long MaxVersionBytes { get; init; } = 16L << 20;

    /// <summary>
    /// A viewer behind by several versions gets their operations in one frame while they add up to at most this many
    /// bytes (and no more than the newest keyframe, when one was made); beyond that it gets a keyframe.
    /// </summary>
    public long CatchUpBudgetBytes { get; init; } = 512 * 1024;
}
