namespace Vdi.Protocol;

/// <summary>Server → client: the tiles that changed since the last acknowledged frame.</summary>
/// <param name="FrameId">Increases by one per frame sent; echoed in <see cref="FrameAck"/>.</param>
/// <param name="Width">Mode width the tiles belong to; the client drops frames for another size.</param>
/// <param name="Height">Mode height the tiles belong to.</param>
/// <param name="Tiles">Rectangles to paint in order; after a mode change the first frame covers the whole screen.</param>
public sealed record FrameUpdate(long FrameId, int Width, int Height, Tile[] Tiles);
