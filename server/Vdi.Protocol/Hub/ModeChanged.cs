namespace Vdi.Protocol;

/// <summary>
/// Server → client: the desktop's display mode changed (also the answer to <c>Connect</c>). Informational: the
/// canvas follows the frames (<see cref="FrameUpdate"/> carries the mode in order); a full frame follows.
/// </summary>
/// <param name="Width">Mode width in device pixels.</param>
/// <param name="Height">Mode height in device pixels.</param>
/// <param name="Dpi">The density the guest lays out for.</param>
public sealed record ModeChanged(int Width, int Height, double Dpi);
