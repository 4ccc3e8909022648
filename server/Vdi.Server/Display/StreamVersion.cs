using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// One version of a desktop's picture: the operations, in order, that take a client from the previous version to
/// this one (a first version of a mode covers the whole screen).
/// </summary>
/// <param name="Number">1, 2, 3… per stream.</param>
/// <param name="Width">The mode the operations belong to.</param>
/// <param name="Height">The mode's height.</param>
/// <param name="Tiles">The operations, exactly as <see cref="FrameComposer"/> made them.</param>
/// <param name="Bytes">Encoded bytes in <paramref name="Tiles"/>.</param>
/// <param name="Fills">The tile-cache slots this version fills, each with what the slot held before.</param>
internal sealed record StreamVersion(long Number, int Width, int Height, Tile[] Tiles, long Bytes, SlotFill[] Fills);

/// <summary>A version filled <paramref name="Slot"/>, which held <paramref name="Previous"/> until then (null: nothing).</summary>
internal readonly record struct SlotFill(int Slot, SlotImage? Previous);

/// <summary>The PNG a tile-cache slot was filled with, kept so a viewer that does not hold the slot can be sent it.</summary>
internal sealed record SlotImage(byte[] Png, int Width, int Height);
