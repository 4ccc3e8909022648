using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using Vdi.Tests.Shared;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Images;

public class GuestAssemblyTests
{
    private const ulong Load = 0x10_0000;

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(100)]
    public void DataSectionStartsOnA64ByteBoundaryWhateverTheCodeLength(int nops)
    {
        Label counter = default;
        var image = GuestAssembly.Build("t", Load, g =>
        {
            counter = g.Data("counter", 8, alignment: 64);
            for (var i = 0; i < nops; i++)
                g.Asm.nop();
            g.Asm.mov(__qword_ptr[counter], rax);
            g.Export("counter", counter);
        });

        var dataStart = image.Symbols[GuestAssembly.DataStartSymbol];
        Assert.Equal(0UL, dataStart % GuestAssembly.DataSectionStart);
        Assert.Equal(dataStart, image.Symbols["counter"]);
        var code = GuestCode.WithoutPadding(GuestCode.Decode(image));
        Assert.Equal(nops + 1, code.Count);
        Assert.Equal(image.Symbols["counter"], code[^1].IPRelativeMemoryAddress);
        Assert.All(image.Bytes[(int)(code[^1].NextIP - Load)..(int)(dataStart - Load)], b => Assert.Equal(0xCC, b));
    }

    [Fact]
    public void DataItemsAreLaidOutInDeclarationOrderWithTheirAlignment()
    {
        var image = GuestAssembly.Build("t", Load, g =>
        {
            g.Export("a", g.Data("a", [1, 2, 3]));
            g.Export("b", g.Data("b", 4, alignment: 16));
            g.Export("c", g.Data("c", [9], alignment: 64));
            g.Asm.ret();
        });

        var a = image.Symbols["a"];
        Assert.Equal(image.Symbols[GuestAssembly.DataStartSymbol], a);
        Assert.Equal(a + 16, image.Symbols["b"]);
        Assert.Equal(a + 64, image.Symbols["c"]);
        Assert.Equal(new byte[] { 1, 2, 3 }, image.Bytes[(int)(a - Load)..(int)(a - Load + 3)]);
        Assert.Equal(9, image.Bytes[(int)(image.Symbols["c"] - Load)]);
        Assert.Equal(image.Symbols["c"] + 1, image.EndAddress);
    }

    [Fact]
    public void APageAlignedItemHasItsPagesToItself()
    {
        var image = GuestAssembly.Build("t", Load, g =>
        {
            g.Export("a", g.Data("a", [1]));
            g.Export("table", g.Data("table", GuestAssembly.DataSectionStart, alignment: GuestAssembly.MaxDataAlignment));
            g.Export("b", g.Data("b", [2]));
            for (var i = 0; i < 77; i++)
                g.Asm.nop();
        });

        var table = image.Symbols["table"];
        Assert.Equal(0UL, table % 4096);
        Assert.Equal(image.Symbols["a"] + 4096, table);
        Assert.Equal(table + 4096, image.Symbols["b"]);
    }

    [Fact]
    public void StringsAreNulTerminatedAsciiAndShared()
    {
        Label first = default, second = default, other = default;
        var image = GuestAssembly.Build("t", Load, g =>
        {
            first = g.String("hello");
            second = g.String("hello");
            other = g.String("bye");
            g.Export("hello", first);
            g.Export("bye", other);
            g.Asm.ret();
        });

        Assert.Equal(first.Id, second.Id);
        var hello = (int)(image.Symbols["hello"] - Load);
        Assert.Equal("hello\0", Encoding.ASCII.GetString(image.Bytes, hello, 6));
        Assert.Equal("bye\0", Encoding.ASCII.GetString(image.Bytes, (int)(image.Symbols["bye"] - Load), 4));
    }

    [Fact]
    public void PatchesSeeFinalAddressesOfCodeAndData()
    {
        var image = GuestAssembly.Build("t", Load, g =>
        {
            var pointer = g.Data("pointer", 8);
            var target = g.CreateLabel("target");
            g.Asm.nop();
            g.Bind(ref target);
            g.Asm.ret();
            g.Export("pointer", pointer);
            g.Patch(p => BinaryPrimitives.WriteUInt64LittleEndian(p.At(pointer, 8), p.AddressOf(target)));
        });

        var pointer = (int)(image.Symbols["pointer"] - Load);
        Assert.Equal(Load + 1, BinaryPrimitives.ReadUInt64LittleEndian(image.Bytes.AsSpan(pointer, 8)));
    }

    [Fact]
    public void EntryPointDefaultsToTheFirstByteAndCanBeMoved()
    {
        var plain = GuestAssembly.Build("t", Load, g => g.Asm.hlt());
        Assert.Equal(Load, plain.EntryPoint);
        Assert.DoesNotContain(GuestAssembly.DataStartSymbol, plain.Symbols.Keys);

        var moved = GuestAssembly.Build("t", Load, g =>
        {
            var start = g.CreateLabel("start");
            g.Asm.nop();
            g.Asm.nop();
            g.Bind(ref start);
            g.Asm.hlt();
            g.SetEntryPoint(start);
        });
        Assert.Equal(Load + 2, moved.EntryPoint);
    }

    [Fact]
    public void ExportingALabelNotBoundThroughBindFails()
    {
        var error = Assert.Throws<InvalidOperationException>(() => GuestAssembly.Build("t", Load, g =>
        {
            var label = g.CreateLabel("direct");
            g.Asm.Label(ref label);
            g.Asm.hlt();
            g.Export("direct", label);
        }));
        Assert.Contains("Bind", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8192)]
    public void DataAlignmentMustBeAPowerOfTwoUpToAPage(int alignment) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestAssembly.Build("t", Load, g => g.Data("x", 8, alignment)));

    [Fact]
    public void SymbolLookupNamesTheMissingSymbol()
    {
        var image = GuestAssembly.Build("named", Load, g => g.Asm.hlt());
        var error = Assert.Throws<KeyNotFoundException>(() => image.Symbol("nope"));
        Assert.Contains("named", error.Message, StringComparison.Ordinal);
        Assert.Contains("nope", error.Message, StringComparison.Ordinal);
    }
}
