using System.Numerics;
using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// Which of a viewer's tile-cache slots hold what the desktop stream's shared slot assignment says they hold, as of
/// the version the viewer has: one bit per slot (<see cref="TileCache.Slots"/>), 128 bytes. Not thread-safe.
/// </summary>
internal sealed class SlotSet
{
    private readonly ulong[] _bits = new ulong[(TileCache.Slots + 63) / 64];

    public bool Contains(int slot) => (_bits[slot >> 6] & (1UL << (slot & 63))) != 0;

    public void Add(int slot) => _bits[slot >> 6] |= 1UL << (slot & 63);

    public void Clear() => Array.Clear(_bits);

    public int Count
    {
        get
        {
            var count = 0;
            foreach (var word in _bits)
                count += BitOperations.PopCount(word);
            return count;
        }
    }

    /// <summary>Adds every slot the PNG tiles of <paramref name="tiles"/> fill.</summary>
    public void AddFills(IEnumerable<Tile> tiles)
    {
        foreach (var tile in tiles)
        {
            if (tile.Encoding == TileEncodings.Png && tile.Slot != TileCache.NoSlot)
                Add(tile.Slot);
        }
    }
}
