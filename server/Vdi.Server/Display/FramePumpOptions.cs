namespace Vdi.Server.Display;

/// <summary>Tuning of a <see cref="FramePump"/>.</summary>
public sealed record FramePumpOptions
{
    /// <summary>How tiles are cut and encoded.</summary>
    public TileEncoderOptions Encoder { get; init; } = new();

    /// <summary>Most damage rectangles kept between frames before snapping to the tile grid.</summary>
    public int MaxDamageRectangles { get; init; } = 32;

    /// <summary>
    /// After areas went out as JPEG and then stopped changing for this long, they are sent again as
    /// PNG so a settled screen is pixel-exact. Null turns the refresh off.
    /// </summary>
    public TimeSpan? LosslessRefreshDelay { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Encode a frame's tiles on several cores when it holds enough pixels (<see cref="FrameComposer.ParallelMinPixels"/>).
    /// Off by default: on two shared cores, where other viewers' pumps and the guest's vCPUs want
    /// the other core too, the pump benchmark measured no gain (see README); turn on for hosts with idle cores.
    /// </summary>
    public bool ParallelEncoding { get; init; }
}
