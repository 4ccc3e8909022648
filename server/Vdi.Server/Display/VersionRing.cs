using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// The recent versions of one desktop's picture, bounded by count and bytes, and the PNG each shared tile-cache slot
/// holds now. A viewer behind by a few versions is brought up to date from here without encoding anything.
/// Used by the stream's worker only; not thread-safe.
/// </summary>
internal sealed class VersionRing(int maxVersions, long maxBytes)
{
    private readonly List<StreamVersion> _versions = [];
    private readonly SlotImage?[] _slots = new SlotImage?[TileCache.Slots];

    /// <summary>The newest version's number, 0 before the first.</summary>
    public long Head { get; private set; }

    /// <summary>The newest version, null before the first.</summary>
    public StreamVersion? Latest => _versions.Count == 0 ? null : _versions[^1];

    /// <summary>Versions kept.</summary>
    public int Count => _versions.Count;

    /// <summary>Encoded bytes of the versions kept.</summary>
    public long Bytes { get; private set; }

    /// <summary>The PNG slot <paramref name="slot"/> holds now, null when never filled.</summary>
    public SlotImage? Slot(int slot) => _slots[slot];

    /// <summary>Records the next version (<see cref="Head"/> + 1) and the slots its PNG tiles fill; drops the oldest beyond the bounds.</summary>
    public StreamVersion Add(int width, int height, Tile[] tiles)
    {
        long bytes = 0;
        List<SlotFill>? fills = null;
        foreach (var tile in tiles)
        {
            bytes += tile.Data.Length;
            if (tile.Encoding == TileEncodings.Png && tile.Slot != TileCache.NoSlot)
            {
                (fills ??= []).Add(new SlotFill(tile.Slot, _slots[tile.Slot]));
                _slots[tile.Slot] = new SlotImage(tile.Data, tile.Width, tile.Height);
            }
        }
        var version = new StreamVersion(++Head, width, height, tiles, bytes, fills?.ToArray() ?? []);
        _versions.Add(version);
        Bytes += bytes;
        while (_versions.Count > 1 && (_versions.Count > maxVersions || Bytes > maxBytes))
        {
            Bytes -= _versions[0].Bytes;
            _versions.RemoveAt(0);
        }
        return version;
    }

    /// <summary>The versions after <paramref name="after"/> up to the newest (empty when some were dropped: ask <see cref="Holds"/> first).</summary>
    public ReadOnlySpan<StreamVersion> After(long after)
    {
        if (_versions.Count == 0 || after >= Head)
            return [];
        var first = Head - _versions.Count + 1;
        return after + 1 < first ? [] : System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_versions)[(int)(after + 1 - first)..];
    }

    /// <summary>True when every version after <paramref name="after"/> is still kept.</summary>
    public bool Holds(long after) => after >= Head || (_versions.Count > 0 && after + 1 >= Head - _versions.Count + 1);

    /// <summary>
    /// What slot <paramref name="slot"/> held right after version <paramref name="version"/> (which must be
    /// <see cref="Holds">held</see>): what the first later fill replaced, or what it holds now.
    /// </summary>
    public SlotImage? SlotAfter(long version, int slot)
    {
        foreach (var v in After(version))
        {
            foreach (var fill in v.Fills)
            {
                if (fill.Slot == slot)
                    return fill.Previous;
            }
        }
        return _slots[slot];
    }
}
