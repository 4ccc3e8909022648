using System.Buffers.Binary;
using Vdi.Vmm.Introspection;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Integrity;

/// <summary>One node of the driver's protected-page tree, as the VMM read it: where the node is, and what it protects.</summary>
public sealed record ProtectedRange(ulong NodeVirtual, ulong NodePhysical, ulong Start, ulong Pages, ProtectionAction Action, uint Tag)
{
    public ulong End => Start + (Pages << 12);

    public bool Contains(ulong virtualAddress) => virtualAddress >= Start && virtualAddress < End;
}

/// <summary>
/// The integrity driver's registry of protected pages: a binary search tree in guest memory, keyed by virtual start
/// address, of 64-byte nodes (64-byte aligned, so a node never straddles a page):
/// <code>
/// +0  u64 start   first protected page (guest-virtual, 4 KiB aligned)
/// +8  u64 pages   how many 4 KiB pages (1 to 65,536)
/// +16 u32 action  1 alert, 2 refuse, 3 stop (<see cref="ProtectionAction"/>)
/// +20 u32 tag     the driver's label for the range (kernel code, IDT, ...), echoed in alerts
/// +24 u64 left    node of lower addresses, 0 for none
/// +32 u64 right   node of higher addresses, 0 for none
/// +40 24 bytes, zero
/// </code>
/// <see cref="Read"/> walks it from the root through the driver's page tables with the fault-safe walker; a tree a
/// hostile guest built — a cycle, overlapping or unordered ranges, a node that does not translate, too many nodes —
/// is refused with a reason, never followed without bound.
/// </summary>
public static class ProtectionTree
{
    public const int NodeSize = 64;
    public const int StartOffset = 0, PagesOffset = 8, ActionOffset = 16, TagOffset = 20, LeftOffset = 24, RightOffset = 32;
    public const int MaxNodes = 1024;
    public const ulong MaxPagesPerNode = 65_536;

    /// <summary>The ranges of the tree under <paramref name="root"/> in address order, or why the tree is refused.</summary>
    public static (IReadOnlyList<ProtectedRange> Ranges, string? Error) Read(GuestMemory memory, ulong cr3, ulong root)
    {
        var ranges = new List<ProtectedRange>();
        var seen = new HashSet<ulong>();
        var stack = new Stack<(ulong Node, ulong Low, ulong High)>();
        if (root != 0)
            stack.Push((root, 0, ulong.MaxValue));
        Span<byte> node = stackalloc byte[NodeSize];
        while (stack.TryPop(out var item))
        {
            var (address, low, high) = item;
            if (address % NodeSize != 0)
                return ([], $"tree node 0x{address:X} is not {NodeSize}-byte aligned");
            if (!seen.Add(address) || seen.Count > MaxNodes)
                return ([], seen.Count > MaxNodes ? $"the tree has more than {MaxNodes} nodes" : $"tree node 0x{address:X} is reached twice (not a tree)");
            var walk = GuestPageWalker.Walk(memory, cr3, address);
            if (!walk.Succeeded || !memory.TryRead(walk.Physical, node))
                return ([], $"tree node 0x{address:X} does not translate: {walk.Fault}");
            var start = BinaryPrimitives.ReadUInt64LittleEndian(node[StartOffset..]);
            var pages = BinaryPrimitives.ReadUInt64LittleEndian(node[PagesOffset..]);
            var action = BinaryPrimitives.ReadUInt32LittleEndian(node[ActionOffset..]);
            var tag = BinaryPrimitives.ReadUInt32LittleEndian(node[TagOffset..]);
            var left = BinaryPrimitives.ReadUInt64LittleEndian(node[LeftOffset..]);
            var right = BinaryPrimitives.ReadUInt64LittleEndian(node[RightOffset..]);
            if ((start & 0xFFF) != 0 || pages is 0 or > MaxPagesPerNode || !Enum.IsDefined((ProtectionAction)action))
                return ([], $"tree node 0x{address:X} is malformed (start 0x{start:X}, {pages} pages, action {action})");
            var end = start + (pages << 12);
            if (end < start || start < low || end > high)
                return ([], $"tree node 0x{address:X} ([0x{start:X}, 0x{end:X})) is out of order or overlaps another");
            ranges.Add(new ProtectedRange(address, walk.Physical, start, pages, (ProtectionAction)action, tag));
            if (right != 0)
                stack.Push((right, end, high));
            if (left != 0)
                stack.Push((left, low, start));
        }
        ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
        return (ranges, null);
    }
}
