using Vdi.Vmm.Introspection;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Integrity;

/// <summary>What a traced write hits, and where the guest sees it.</summary>
public readonly record struct ProtectionHit(IntegrityAlertKind Kind, ProtectedRange Range, ulong Virtual, string Detail);

/// <summary>
/// The protected-page tree resolved through the driver's page tables: for each protected virtual page its physical
/// page, the page-table entries on the path to it, and the place of each tree node. Its <see cref="TracedPages"/> are
/// everything a write must be checked on: protected pages, the page-table pages on their paths, the tree's pages.
/// Built whenever the tree may have changed (registration, leaving integrity mode); since the tree, the tables and the
/// pages are all traced, nothing changes them unseen in between, so <see cref="Classify"/> answers what a walk of the
/// tree at the write would.
/// </summary>
public sealed class ProtectionMap
{
    private const ulong Present = 1, Writable = 2, User = 4, Large = 0x80, NoExecute = 1UL << 63;
    private const ulong FrameBits = ((1UL << 52) - 1) & ~0xFFFUL;

    /// <summary>Bits of an entry whose change moves or widens what it maps; accessed and dirty bits are not among them.</summary>
    private const ulong Relevant = Present | Writable | User | Large | NoExecute | FrameBits;

    private readonly Dictionary<ulong, (ProtectedRange Range, ulong Virtual)> _pages = []; // physical page number →
    private readonly Dictionary<ulong, (ProtectedRange Range, ulong Virtual)> _entries = []; // entry's physical address → first protected page under it
    private readonly Dictionary<ulong, ProtectedRange> _nodes = []; // node's physical address →

    private ProtectionMap(IReadOnlyList<ProtectedRange> ranges) => Ranges = ranges;

    public IReadOnlyList<ProtectedRange> Ranges { get; }

    /// <summary>Physical page numbers to trace.</summary>
    public HashSet<ulong> TracedPages { get; } = [];

    public static ProtectionMap Empty { get; } = new([]);

    /// <summary>Resolves <paramref name="ranges"/> through the tables at <paramref name="cr3"/>; the error when a protected page does not translate.</summary>
    public static (ProtectionMap? Map, string? Error) Build(GuestMemory memory, ulong cr3, IReadOnlyList<ProtectedRange> ranges)
    {
        var map = new ProtectionMap(ranges);
        foreach (var range in ranges)
        {
            map._nodes[range.NodePhysical] = range;
            map.TracedPages.Add(range.NodePhysical >> 12);
            for (var page = range.Start; page < range.End; page += 0x1000)
            {
                var walk = GuestPageWalker.Walk(memory, cr3, page);
                if (!walk.Succeeded)
                    return (null, $"protected page 0x{page:X} does not translate: {walk.Fault}");
                map._pages.TryAdd(walk.Physical >> 12, (range, page));
                map.TracedPages.Add(walk.Physical >> 12);
                foreach (var entry in walk.EntryAddresses)
                {
                    map._entries.TryAdd(entry, (range, page));
                    map.TracedPages.Add(entry >> 12);
                }
            }
        }
        return (map, null);
    }

    /// <summary>
    /// What a write of <paramref name="after"/> at <paramref name="address"/> (not yet made) hits: tree nodes it
    /// changes, page-table entries whose change would move, unmap or widen a protected page, protected pages.
    /// </summary>
    public List<ProtectionHit> Classify(GuestMemory memory, ulong address, byte[] after)
    {
        var hits = new List<ProtectionHit>();
        var end = address + (ulong)after.Length;
        for (var node = address & ~(ulong)(ProtectionTree.NodeSize - 1); node < end; node += ProtectionTree.NodeSize)
        {
            if (_nodes.TryGetValue(node, out var range))
                hits.Add(new(IntegrityAlertKind.Tree, range, range.NodeVirtual + (Math.Max(address, node) - node), $"tree node of [0x{range.Start:X}, 0x{range.End:X}) changed outside integrity mode"));
        }
        for (var entry = address & ~7UL; entry < end; entry += 8)
        {
            if (!_entries.TryGetValue(entry, out var mapped))
                continue;
            var old = memory.Read<ulong>(entry);
            var bytes = BitConverter.GetBytes(old);
            for (var i = 0; i < 8; i++)
            {
                var at = entry + (ulong)i;
                if (at >= address && at < end)
                    bytes[i] = after[at - address];
            }
            var updated = BitConverter.ToUInt64(bytes);
            if (((old ^ updated) & Relevant) != 0)
                hits.Add(new(IntegrityAlertKind.PageTable, mapped.Range, mapped.Virtual, $"page-table entry at 0x{entry:X} on the path to protected page 0x{mapped.Virtual:X}: 0x{old:X} -> 0x{updated:X}"));
        }
        for (var page = address >> 12; page <= (end - 1) >> 12; page++)
        {
            if (_pages.TryGetValue(page, out var mapped))
                hits.Add(new(IntegrityAlertKind.ProtectedPage, mapped.Range, mapped.Virtual + (Math.Max(address, page << 12) & 0xFFF), $"protected page 0x{mapped.Virtual:X} (tag {mapped.Range.Tag})"));
        }
        return hits;
    }
}
