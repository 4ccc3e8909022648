namespace Vdi.Protocol;

/// <summary>
/// One drawing operation of a frame, in device pixels of the mode. Operations are applied in order;
/// <see cref="Encoding"/> says which kind (see <see cref="TileEncodings"/>) and which fields it uses.
/// </summary>
/// <param name="X">Left edge of the rectangle painted.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Width">Width of the rectangle (and of the encoded image).</param>
/// <param name="Height">Height of the rectangle.</param>
/// <param name="Encoding">One of <see cref="TileEncodings"/>.</param>
/// <param name="Data">The encoded image (<c>png</c>, <c>jpeg</c>); empty for <c>cache</c> and <c>copy</c>.</param>
/// <param name="Slot">
/// <c>png</c>: the tile cache slot the client keeps this image in (replacing what the slot held), or
/// <see cref="TileCache.NoSlot"/>; <c>cache</c>: the slot whose image is painted; otherwise <see cref="TileCache.NoSlot"/>.
/// </param>
/// <param name="SourceX"><c>copy</c>: left edge of the area of the client's own picture copied to (X, Y); otherwise 0.</param>
/// <param name="SourceY"><c>copy</c>: top edge of that area; otherwise 0.</param>
/// <remarks>Arrays keep the record MessagePack friendly; records compare them by reference.</remarks>
public sealed record Tile(int X, int Y, int Width, int Height, string Encoding, byte[] Data, int Slot = TileCache.NoSlot, int SourceX = 0, int SourceY = 0);
