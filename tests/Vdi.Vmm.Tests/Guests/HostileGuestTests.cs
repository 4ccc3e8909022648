using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using BusAccess = Vdi.Tests.Shared.Emulation.BusAccess;

namespace Vdi.Vmm.Tests.Guests;

/// <summary>The hostile guest, run on the emulator and compared with a C# model of its documented behaviour.</summary>
public class HostileGuestTests
{
    private const ulong RamSize = GuestLayout.MinimumMemory;

    [Theory]
    [InlineData(1UL, 3000)]
    [InlineData(0xFEED_FACE_CAFE_BEEFUL, 3000)]
    [InlineData(0UL, 500)]
    public void MakesExactlyTheAccessesItsModelPredicts(ulong seed, int iterations)
    {
        var (expectedPorts, expectedMmio) = Model(seed, iterations, RamSize);
        var machine = new EmulatedMachine(TestGuests.Hostile(seed, iterations, RamSize), ramSize: RamSize) { RecordRamWrites = true };

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0u, machine.ExitCode);
        Assert.Equal(new BusAccess(PortMap.PowerOff, 4, IsWrite: true, 0, 0), machine.PortAccesses[^1]);
        Assert.Equal(expectedPorts, machine.PortAccesses[..^1]);
        Assert.Equal(expectedMmio, machine.UnclaimedMmio);
        Assert.Empty(machine.RamWrites);
    }

    [Fact]
    public void StaysOutOfRamThePowerBlockAndTheApicsWhileCoveringEveryKindOfAccess()
    {
        var machine = new EmulatedMachine(TestGuests.Hostile(7, 4000, RamSize), ramSize: RamSize) { RecordRamWrites = true };
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());

        var ports = machine.PortAccesses[..^1];
        Assert.DoesNotContain(ports, p => p.Address - PortMap.PowerBase < PortMap.PowerLength);
        Assert.All(machine.UnclaimedMmio, m =>
        {
            Assert.InRange(m.Address, RamSize, TestGuests.HostileMmioLimit - (ulong)m.Size);
            Assert.Equal(0UL, m.Address % (ulong)m.Size);
        });
        Assert.Empty(machine.RamWrites);
        Assert.All(machine.Cpus, c => Assert.Empty(c.LocalApicWrites));

        Assert.Equal([1, 2, 4], ports.Select(p => p.Size).Distinct().Order());
        Assert.Equal([1, 2, 4, 8], machine.UnclaimedMmio.Select(m => m.Size).Distinct().Order());
        Assert.Equal([false, true], ports.Select(p => p.IsWrite).Distinct().Order());
        Assert.Equal([false, true], machine.UnclaimedMmio.Select(m => m.IsWrite).Distinct().Order());
    }

    [Fact]
    public void TheSeedChoosesTheSequence()
    {
        Assert.Equal(TestGuests.Hostile(5, 100, RamSize).Bytes, TestGuests.Hostile(5, 100, RamSize).Bytes);

        var a = new EmulatedMachine(TestGuests.Hostile(5, 100, RamSize), ramSize: RamSize);
        var b = new EmulatedMachine(TestGuests.Hostile(6, 100, RamSize), ramSize: RamSize);
        a.Run();
        b.Run();
        Assert.NotEqual(a.UnclaimedMmio.Concat(a.PortAccesses), b.UnclaimedMmio.Concat(b.PortAccesses));
    }

    [Fact]
    public void ZeroIterationsJustPowersOff()
    {
        var machine = new EmulatedMachine(TestGuests.Hostile(1, 0, RamSize), ramSize: RamSize);
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Single(machine.PortAccesses);
        Assert.Empty(machine.UnclaimedMmio);
    }

    [Theory]
    [InlineData(TestGuests.HostileMmioLimit)]
    [InlineData(0x1_0000_0000UL)]
    [InlineData(0x40_0004UL)]
    public void RejectsRamSizesThatLeaveNoAlignedWindow(ulong ramSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TestGuests.Hostile(1, 1, ramSize));

    [Fact]
    public void RejectsNegativeIterations() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => TestGuests.Hostile(1, -1, RamSize));

    /// <summary>The behaviour <see cref="TestGuests.Hostile"/> documents, written in C#.</summary>
    private static (List<BusAccess> Ports, List<BusAccess> Mmio) Model(ulong seed, int iterations, ulong ramSize)
    {
        var ports = new List<BusAccess>();
        var mmio = new List<BusAccess>();
        var x = seed == 0 ? TestGuests.HostileDefaultSeed : seed;
        for (var i = 0; i < iterations; i++)
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            var write = (x & 1) != 0;
            var wide = (x & 2) != 0;
            if ((x & 8) == 0)
            {
                var port = (ushort)(x >> 16);
                if ((uint)(port - PortMap.PowerBase) < PortMap.PowerLength)
                    continue;
                var size = (x & 4) != 0 ? 4 : wide ? 2 : 1;
                ports.Add(new BusAccess(port, size, write, write ? x & Mask(size) : 0, 0));
            }
            else
            {
                var size = (x & 4) != 0 ? (wide ? 8 : 4) : wide ? 2 : 1;
                var address = (ramSize + ((x >> 24) % (TestGuests.HostileMmioLimit - ramSize))) & ~((ulong)size - 1);
                mmio.Add(new BusAccess(address, size, write, write ? x & Mask(size) : 0, 0));
            }
        }

        return (ports, mmio);
    }

    private static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
}
