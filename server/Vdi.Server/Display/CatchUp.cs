using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// One frame that takes a viewer from the version it has to the newest: the operations of every version in between,
/// in order (they apply in order, so their concatenation is valid). A cache reference to a slot the viewer does not
/// hold becomes that slot's PNG, filling the slot, so a viewer never paints a slot it was not given.
/// </summary>
internal static class CatchUp
{
    /// <summary>
    /// The operations after version <paramref name="after"/>, or null when one of those versions was dropped, belongs
    /// to another mode than the newest, or they add up to more than <paramref name="budget"/> bytes (a keyframe is
    /// then cheaper). <paramref name="slots"/> is updated to what the viewer holds after applying them (after a null,
    /// it may hold too much: send a keyframe, which starts it afresh).
    /// </summary>
    public static List<Tile>? Build(VersionRing ring, long after, SlotSet slots, long budget)
    {
        if (!ring.Holds(after) || ring.Latest is not { } head)
            return null;
        var versions = ring.After(after);
        long bytes = 0;
        var count = 0;
        foreach (var v in versions)
        {
            if (v.Width != head.Width || v.Height != head.Height)
                return null;
            bytes += v.Bytes;
            count += v.Tiles.Length;
        }
        if (bytes > budget)
            return null;
        var tiles = new List<Tile>(count);
        foreach (var v in versions)
        {
            foreach (var tile in v.Tiles)
            {
                if (tile.Encoding == TileEncodings.Png && tile.Slot != TileCache.NoSlot)
                {
                    slots.Add(tile.Slot);
                }
                else if (tile.Encoding == TileEncodings.Cache && !slots.Contains(tile.Slot))
                {
                    // No fill of this slot was applied since `after` (it would be in `slots`), so it still holds what
                    // it held right after `after`, in the shared assignment.
                    if (ring.SlotAfter(after, tile.Slot) is not { } image || image.Width != tile.Width || image.Height != tile.Height)
                        return null; // cannot happen while the ring and the composer agree; a keyframe is always right
                    tiles.Add(tile with { Encoding = TileEncodings.Png, Data = image.Png });
                    slots.Add(tile.Slot);
                    continue;
                }
                tiles.Add(tile);
            }
        }
        return tiles;
    }
}
