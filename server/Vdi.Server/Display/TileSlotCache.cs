using Vdi.Protocol;

namespace Vdi.Server.Display;

/// <summary>
/// The server's record of one client's tile cache (<see cref="TileCache"/>): which content hash each
/// slot holds, least recently used first. The server alone picks slots — free ones in order 0, 1, 2…,
/// then the least recently used — so the client, which stores by slot number, always holds exactly
/// what this record says. No allocation after construction. Not thread-safe.
/// </summary>
public sealed class TileSlotCache
{
    private const int None = -1;

    private readonly Dictionary<ulong, int> _slots;
    private readonly ulong[] _hashes;
    private readonly int[] _older; // toward the least recently used end
    private readonly int[] _newer;
    private int _oldest = None;
    private int _newest = None;

    public TileSlotCache(int capacity = TileCache.Slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, TileCache.Slots);
        Capacity = capacity;
        _slots = new Dictionary<ulong, int>(capacity);
        _hashes = new ulong[capacity];
        _older = new int[capacity];
        _newer = new int[capacity];
    }

    public int Capacity { get; }

    /// <summary>Slots in use.</summary>
    public int Count => _slots.Count;

    /// <summary>True when a slot holds <paramref name="hash"/>; that slot becomes the most recently used.</summary>
    public bool TryUse(ulong hash, out int slot)
    {
        if (!_slots.TryGetValue(hash, out slot))
            return false;
        Unlink(slot);
        LinkNewest(slot);
        return true;
    }

    /// <summary>True when a slot holds <paramref name="hash"/>, without making it the most recently used.</summary>
    public bool TryFind(ulong hash, out int slot) => _slots.TryGetValue(hash, out slot);

    /// <summary>
    /// The slot the client is to keep <paramref name="hash"/>'s image in: the next free slot, or the
    /// least recently used one (whose old content is forgotten). It becomes the most recently used.
    /// </summary>
    public int Add(ulong hash)
    {
        if (TryUse(hash, out var existing))
            return existing;
        int slot;
        if (_slots.Count < Capacity)
        {
            slot = _slots.Count;
        }
        else
        {
            slot = _oldest;
            Unlink(slot);
            _slots.Remove(_hashes[slot]);
        }
        _hashes[slot] = hash;
        _slots.Add(hash, slot);
        LinkNewest(slot);
        return slot;
    }

    /// <summary>The slot eviction would take next, or -1 while free slots remain.</summary>
    public int NextEviction => _slots.Count < Capacity ? None : _oldest;

    /// <summary>Forgets every slot (a client that starts with an empty cache).</summary>
    public void Clear()
    {
        _slots.Clear();
        _oldest = _newest = None;
    }

    private void Unlink(int slot)
    {
        var (older, newer) = (_older[slot], _newer[slot]);
        if (older != None)
            _newer[older] = newer;
        else
            _oldest = newer;
        if (newer != None)
            _older[newer] = older;
        else
            _newest = older;
    }

    private void LinkNewest(int slot)
    {
        _older[slot] = _newest;
        _newer[slot] = None;
        if (_newest != None)
            _newer[_newest] = slot;
        _newest = slot;
        if (_oldest == None)
            _oldest = slot;
    }
}
