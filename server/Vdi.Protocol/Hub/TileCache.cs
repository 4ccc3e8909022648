namespace Vdi.Protocol;

/// <summary>
/// The client's tile cache: a fixed number of slots, each holding one lossless image of at most
/// <see cref="MaxTileSize"/> x <see cref="MaxTileSize"/> pixels. The server alone decides which slot
/// an image goes to (a <c>png</c> tile with <see cref="Tile.Slot"/> set) and which one is painted (a
/// <c>cache</c> tile); the client only stores and paints by slot number, so both sides always agree
/// on what a slot holds without the client evicting anything itself. Slots outlive mode changes;
/// a new connection starts with a server that references no slot it has not filled itself.
/// </summary>
public static class TileCache
{
    /// <summary>Slots per connection, numbered 0 .. Slots - 1.</summary>
    public const int Slots = 1024;

    /// <summary>Largest cached tile, in pixels each way: the server's tile grid.</summary>
    public const int MaxTileSize = 64;

    /// <summary><see cref="Tile.Slot"/> of a tile that neither fills nor paints a slot.</summary>
    public const int NoSlot = -1;
}
