namespace Vdi.Protocol;

/// <summary>One encoded rectangle of a frame, in device pixels of the mode.</summary>
/// <param name="X">Left edge.</param>
/// <param name="Y">Top edge.</param>
/// <param name="Width">Width of the rectangle (and of the encoded image).</param>
/// <param name="Height">Height of the rectangle.</param>
/// <param name="Encoding">One of <see cref="TileEncodings"/>.</param>
/// <param name="Data">The encoded image.</param>
/// <remarks>Arrays keep the record MessagePack friendly; records compare them by reference.</remarks>
public sealed record Tile(int X, int Y, int Width, int Height, string Encoding, byte[] Data);
