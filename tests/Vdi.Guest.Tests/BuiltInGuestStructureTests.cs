using System.Text;
using Iced.Intel;
using Vdi.Tests.Shared;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Tests;

/// <summary>What the built-in guest's bytes contain, checked by decoding them.</summary>
public class BuiltInGuestStructureTests
{
    private static readonly GuestImage s_image = BuiltInGuest.Build();
    private static readonly List<Instruction> s_code = GuestCode.Decode(s_image);

    [Fact]
    public void LoadsAtTheImageBaseAndStartsAtItsFirstByte()
    {
        Assert.Equal(GuestLayout.ImageBase, s_image.LoadAddress);
        Assert.Equal(GuestLayout.ImageBase, s_image.EntryPoint);
        Assert.True(s_image.Bytes.Length < 0x10_0000, "image must fit the 1 MiB below the stacks' neighbour");
    }

    [Fact]
    public void CountsWithLockXaddOnTheCounterAndDone()
    {
        var xadds = s_code.Where(i => i.Mnemonic == Mnemonic.Xadd).ToList();
        Assert.All(xadds, i => Assert.True(i.HasLockPrefix));
        Assert.Contains(xadds, i => i.IsIPRelativeMemoryOperand && i.IPRelativeMemoryAddress == s_image.Symbols["counter"] && i.MemorySize == MemorySize.UInt64);
        Assert.Contains(xadds, i => i.IsIPRelativeMemoryOperand && i.IPRelativeMemoryAddress == s_image.Symbols["done"]);
    }

    [Fact]
    public void TheCountLoopRunsTheRequestedIterations()
    {
        var code = GuestCode.Decode(BuiltInGuest.Build(counterIterations: 1234));
        Assert.Contains(code, i => GuestCode.MovesImmediate(i, Register.ECX, 1234));
    }

    [Fact]
    public void LoadsItsIdtAndIdlesWithStiHlt()
    {
        Assert.Contains(s_code, i => i.Mnemonic == Mnemonic.Lidt);
        var stiHltPairs = s_code.Zip(s_code.Skip(1)).Count(p => p.First.Mnemonic == Mnemonic.Sti && p.Second.Mnemonic == Mnemonic.Hlt);
        Assert.Equal(2, stiHltPairs); // vCPU 0's idle loop and the others'
    }

    [Fact]
    public void WritesSerialOutputToCom1AfterPollingTheLineStatus()
    {
        var comOut = s_code.Select((instruction, index) => (instruction, index)).Single(p =>
            p.instruction.Mnemonic == Mnemonic.Out && p.index > 0
            && GuestCode.MovesImmediate(s_code[p.index - 1], Register.DX, PortMap.Com1));
        Assert.Equal(Register.AL, comOut.instruction.Op1Register);
        Assert.Contains(s_code, i => GuestCode.MovesImmediate(i, Register.DX, PortMap.Com1 + 5));
    }

    [Theory]
    [InlineData("Vdi built-in guest: ")]
    [InlineData(" vCPUs\n")]
    [InlineData("cpu ")]
    [InlineData(" online\n")]
    [InlineData("counter ")]
    [InlineData("power off\n")]
    [InlineData("exception ")]
    public void CarriesItsMessagesAsNulTerminatedStringsInTheData(string text)
    {
        var data = s_image.Bytes.AsSpan((int)(GuestCode.CodeEnd(s_image) - s_image.LoadAddress));
        Assert.True(data.IndexOf(Encoding.ASCII.GetBytes(text + "\0")) >= 0, $"'{text}' not found in the data");
    }

    [Fact]
    public void SharedVariablesAreInsideTheDataOnTheirOwnCacheLines()
    {
        string[] names = [BuiltInGuest.CounterSymbol, BuiltInGuest.DoneSymbol, BuiltInGuest.TurnSymbol, BuiltInGuest.HostRequestPendingSymbol];
        var addresses = names.Select(n => s_image.Symbols[n]).ToList();
        Assert.All(addresses, a =>
        {
            Assert.InRange(a, GuestCode.CodeEnd(s_image), s_image.EndAddress - 8);
            Assert.Equal(0UL, a % 64);
        });
        Assert.Equal(names.Length, addresses.Select(a => a / 64).Distinct().Count());
        Assert.All(addresses, a => Assert.All(s_image.Bytes.AsSpan((int)(a - s_image.LoadAddress), 64).ToArray(), b => Assert.Equal(0, b)));
    }

    [Fact]
    public void WritesTheBootMarkersInOrder()
    {
        var markers = new List<ulong>();
        for (var i = 2; i < s_code.Count; i++)
        {
            if (s_code[i].Mnemonic == Mnemonic.Out && GuestCode.MovesImmediate(s_code[i - 2], Register.DX, PortMap.BootMarker))
                markers.Add(s_code[i - 1].GetImmediate(1));
        }

        Assert.Equal([BootMarkers.Entered, BootMarkers.AllVcpusOnline, BootMarkers.CounterDone, BootMarkers.Idle], markers);
    }

    [Fact]
    public void AccessesTheApicsOnlyThroughZeroExtendedBaseRegisters()
    {
        // A 32-bit absolute displacement above 2 GiB would be sign-extended to 0xFFFFFFFF_FEE0xxxx.
        Assert.DoesNotContain(s_code, i => i.Op0Kind == OpKind.Memory && i.MemoryBase == Register.None && i.MemoryDisplacement64 >= 0x8000_0000);
        Assert.Contains(s_code, i => GuestCode.MovesImmediate(i, Register.EAX, GuestLayout.LocalApicBase));
        Assert.Contains(s_code, i => GuestCode.MovesImmediate(i, Register.EAX, GuestLayout.IoApicBase));
    }

    [Fact]
    public void RejectsANegativeIterationCount() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BuiltInGuest.Build(-1));
}
