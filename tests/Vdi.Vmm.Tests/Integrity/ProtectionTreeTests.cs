using Vdi.Vmm.Integrity;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Integrity;

/// <summary>Reading the driver's tree: order and overlap checked, and a hostile tree refused with a reason instead of followed.</summary>
public sealed class ProtectionTreeTests : IDisposable
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Tree = 0x10_0000;
    private readonly GuestMemory _memory = new();

    public ProtectionTreeTests()
    {
        _memory.AddRam(0, 4UL << 20);
        _memory.Write(Pml4, Pdpt | 0x63);
        _memory.Write(Pdpt, Pd | 0x63);
        _memory.Write(Pd, 0UL | 0xE3); // 2 MiB identity
        _memory.Write(Pd + 8, 0x20_0000UL | 0xE3);
    }

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void A_tree_reads_in_address_order()
    {
        Node(0, start: 0x5000, left: 0x40, right: 0x80);
        Node(0x40, start: 0x1000, pages: 2);
        Node(0x80, start: 0x9000);
        var (ranges, error) = ProtectionTree.Read(_memory, Pml4, Tree);
        Assert.Null(error);
        Assert.Equal([0x1000UL, 0x5000, 0x9000], ranges.Select(r => r.Start));
        Assert.Equal(Tree + 0x40, ranges[0].NodePhysical);
        Assert.Equal(0x3000UL, ranges[0].End);
    }

    [Theory]
    [InlineData("cycle")]
    [InlineData("overlap")]
    [InlineData("order")]
    [InlineData("unaligned")]
    [InlineData("action")]
    [InlineData("unmapped")]
    public void A_hostile_tree_is_refused(string shape)
    {
        switch (shape)
        {
            case "cycle":
                Node(0, start: 0x5000, left: 0x40);
                Node(0x40, start: 0x1000, right: 0); // points back up
                _memory.Write(Tree + 0x40 + ProtectionTree.RightOffset, Tree);
                break;
            case "overlap":
                Node(0, start: 0x5000, left: 0x40);
                Node(0x40, start: 0x4000, pages: 2);
                break;
            case "order":
                Node(0, start: 0x5000, left: 0x40);
                Node(0x40, start: 0x9000);
                break;
            case "unaligned":
                Node(0, start: 0x5000, left: 0x48);
                break;
            case "action":
                Node(0, start: 0x5000, action: 7);
                break;
            default:
                Node(0, start: 0x5000, right: 0x7F00_0000);
                break;
        }
        var (ranges, error) = ProtectionTree.Read(_memory, Pml4, Tree);
        Assert.Empty(ranges);
        Assert.NotNull(error);
    }

    [Fact]
    public void A_tree_larger_than_the_limit_is_refused()
    {
        for (var i = 0UL; i <= ProtectionTree.MaxNodes; i++) // a chain to the right, one node more than allowed
            Node(i * 0x40, start: 0x1000 + (i * 0x1000), right: (i + 1) * 0x40);
        Assert.Contains("more than", ProtectionTree.Read(_memory, Pml4, Tree).Error, StringComparison.Ordinal);
    }

    private void Node(ulong offset, ulong start, ulong pages = 1, uint action = 2, ulong left = 0, ulong right = 0)
    {
        var node = Tree + offset;
        _memory.Write(node + ProtectionTree.StartOffset, start);
        _memory.Write(node + ProtectionTree.PagesOffset, pages);
        _memory.Write(node + ProtectionTree.ActionOffset, (ulong)action);
        _memory.Write(node + ProtectionTree.LeftOffset, left == 0 ? 0 : Tree + left);
        _memory.Write(node + ProtectionTree.RightOffset, right == 0 ? 0 : right >= 0x100_0000 ? right : Tree + right);
    }
}
