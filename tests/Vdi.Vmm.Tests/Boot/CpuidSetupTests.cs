using Vdi.Vmm.Boot;
using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Tests.Boot;

public sealed class CpuidSetupTests
{
    private static kvm_cpuid_entry2 Leaf(uint function, uint index, uint eax, uint ebx, uint ecx, uint edx) =>
        new() { function = function, index = index, eax = eax, ebx = ebx, ecx = ecx, edx = edx };

    private static readonly kvm_cpuid_entry2[] s_supported =
    [
        Leaf(0x0, 0, 0x1F, 0x756E_6547, 0x6C65_746E, 0x4965_6E69),
        Leaf(0x1, 0, 0x000A_0655, 0x0010_0800, 0xF7FA_3223, 0x0F8B_FBFF),
        Leaf(0xB, 0, 0x1, 0x2, 0x100, 0),
        Leaf(0xB, 1, 0x4, 0x8, 0x201, 0),
        Leaf(0x1F, 0, 0x1, 0x2, 0x100, 0),
        Leaf(0x8000_0001, 0, 0, 0, 0x121, 0x2C10_0800),
    ];

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public void ApicIdGoesIntoLeafOneAndTheTopologyLeaves(int apicId)
    {
        var entries = CpuidSetup.ForVcpu(s_supported, apicId);

        Assert.Equal(s_supported.Length, entries.Length);
        Assert.Equal(((uint)apicId << 24) | 0x0010_0800, entries[1].ebx); // CLFLUSH size and logical count kept
        Assert.Equal((uint)apicId, entries[2].edx);
        Assert.Equal((uint)apicId, entries[3].edx);
        Assert.Equal((uint)apicId, entries[4].edx);
    }

    [Fact]
    public void EverythingElseIsUnchanged()
    {
        var entries = CpuidSetup.ForVcpu(s_supported, 7);

        Assert.Equal(s_supported[0], entries[0]);
        Assert.Equal(s_supported[5], entries[5]);
        Assert.Equal(s_supported[1] with { ebx = 0x0710_0800 }, entries[1]);
        Assert.Equal(s_supported[2] with { edx = 7 }, entries[2]);
        Assert.Equal(s_supported[3] with { edx = 7 }, entries[3]);
    }

    [Fact]
    public void TheSupportedListIsCopiedNotChanged()
    {
        var before = s_supported.ToArray();

        var first = CpuidSetup.ForVcpu(s_supported, 1);
        var second = CpuidSetup.ForVcpu(s_supported, 2);

        Assert.Equal(before, s_supported);
        Assert.NotSame(first, second);
        Assert.Equal(1u, first[1].ebx >> 24);
        Assert.Equal(2u, second[1].ebx >> 24);
    }
}
