using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// The exit-storm benchmark's loop (<see cref="ExitStormBenchmark"/>): port reads from <see cref="PortMap.Sequence"/>
/// mixed into a checksum. A measurement loop of the VMM's own, not a guest OS; the VMM's tests build more storms from
/// its pieces.
/// </summary>
public static class ExitStormLoop
{
    internal const uint ChecksumBasis = 0x811C_9DC5;
    private const uint ChecksumPrime = 0x0100_0193;

    /// <summary>
    /// An exit storm: <paramref name="iterations"/> times <c>in eax, dx</c> from the sequence port, each value folded
    /// into a checksum with ALU work (<see cref="Checksum"/>); powers off with the checksum as exit code. On KVM
    /// every iteration is a VM exit.
    /// </summary>
    public static GuestImage Build(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        return GuestAssembly.Build("exit-storm-loop", GuestLayout.ImageBase, g => EmitStormThenPowerOff(g.Asm, iterations));
    }

    /// <summary>The checksum <see cref="Build"/>'s loop computes, from the sequence device's values (the reference).</summary>
    public static uint Checksum(int iterations)
    {
        var state = Devices.SequenceDevice.Seed;
        var checksum = ChecksumBasis;
        for (var counter = (uint)iterations; counter > 0; counter--)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            checksum = Mix(checksum, state, counter);
        }
        return checksum;
    }

    /// <summary><paramref name="iterations"/> reads of the sequence port folded into the checksum, then power off with it.</summary>
    internal static void EmitStormThenPowerOff(Assembler a, int iterations)
    {
        var loop = a.CreateLabel("storm");
        a.mov(ecx, iterations);
        a.mov(dx, PortMap.Sequence);
        a.mov(ebx, ChecksumBasis);
        a.Label(ref loop);
        EmitMix(a);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(eax, ebx);
        PowerPortEmitter.EmitPowerOffWithEax(a);
    }

    /// <summary><c>in eax, dx</c> and fold it into ebx with ecx (<see cref="Mix"/>). Clobbers eax, esi.</summary>
    internal static void EmitMix(Assembler a)
    {
        a.@in(eax, dx);
        a.xor(ebx, eax);
        a.imul(ebx, ebx, unchecked((int)ChecksumPrime));
        a.add(ebx, ecx);
        a.mov(esi, ebx);
        a.shr(esi, 15);
        a.xor(ebx, esi);
    }

    private static uint Mix(uint checksum, uint value, uint counter)
    {
        checksum ^= value;
        checksum = unchecked(checksum * ChecksumPrime);
        checksum = unchecked(checksum + counter);
        return checksum ^ (checksum >> 15);
    }
}
