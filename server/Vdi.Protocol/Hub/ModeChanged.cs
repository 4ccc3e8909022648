namespace Vdi.Protocol;

/// <summary>
/// Server → client: the desktop's display mode changed. The client resizes its canvas backing
/// store to exactly this size; a full frame follows.
/// </summary>
/// <param name="Width">Mode width in device pixels.</param>
/// <param name="Height">Mode height in device pixels.</param>
/// <param name="Dpi">The density the guest lays out for.</param>
public sealed record ModeChanged(int Width, int Height, double Dpi);
