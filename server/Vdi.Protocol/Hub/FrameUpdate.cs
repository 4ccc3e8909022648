namespace Vdi.Protocol;

/// <summary>Server → client: the tiles that changed since the last acknowledged frame.</summary>
/// <param name="FrameId">Increases by one per frame sent; echoed in <see cref="FrameAck"/>.</param>
/// <param name="Width">Mode width the tiles belong to; the client drops frames for another size.</param>
/// <param name="Height">Mode height the tiles belong to.</param>
/// <param name="Tiles">Rectangles to paint in order; after a mode change the first frame covers the whole screen.</param>
/// <param name="Dpi">The density the guest lays out for when the frame was captured (0 when unknown).</param>
/// <remarks>
/// The mode travels with the frames, in their order: a client resizes its canvas when a frame of another size
/// arrives (that frame covers the whole screen) and never on a separate message, so no late notice can clear
/// pixels the server believes are shown.
/// </remarks>
public sealed record FrameUpdate(long FrameId, int Width, int Height, Tile[] Tiles, double Dpi = 0);
