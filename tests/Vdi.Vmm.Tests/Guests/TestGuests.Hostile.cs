using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Guests;

public static partial class TestGuests
{
    /// <summary>End (exclusive) of the window <see cref="Hostile"/> pokes with MMIO accesses; below the PCI hole and the APICs.</summary>
    public const ulong HostileMmioLimit = 0xC000_0000;

    /// <summary>Seed used when <see cref="Hostile"/> is given 0 (xorshift would stay 0 for ever).</summary>
    public const ulong HostileDefaultSeed = 0x9E37_79B9_7F4A_7C15;

    /// <summary>
    /// A guest that pokes the VMM at random. State: xorshift64 (x ^= x &lt;&lt; 13; x ^= x &gt;&gt; 7; x ^= x &lt;&lt; 17)
    /// in r8, stepped once per iteration; the new state x chooses the access:
    /// <list type="bullet">
    /// <item>bit 3 clear: port I/O to port = bits 16–31 of x, skipped when inside the power block
    /// [<see cref="PortMap.PowerBase"/>, +<see cref="PortMap.PowerLength"/>); bit 0 = out (value: low bits of x) or in;
    /// bits 1–2 = size (0: 1 byte, 1: 2 bytes, 2 or 3: 4 bytes).</item>
    /// <item>bit 3 set: MMIO at ramSize + ((x &gt;&gt; 24) mod (<see cref="HostileMmioLimit"/> − ramSize)), aligned down to
    /// the access size; bit 0 = write (value: low bits of x) or read; bits 1–2 = size 1, 2, 4, 8.</item>
    /// </list>
    /// Every access stays outside guest RAM and the APIC windows. After <paramref name="iterations"/> iterations it
    /// powers off with 0. Uses no stack and no memory of its own.
    /// </summary>
    /// <param name="seed">PRNG seed (0 means <see cref="HostileDefaultSeed"/>).</param>
    /// <param name="iterations">Iterations (0 or more).</param>
    /// <param name="ramSize">Guest RAM size: a multiple of 8 below <see cref="HostileMmioLimit"/>.</param>
    public static GuestImage Hostile(ulong seed, int iterations, ulong ramSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(ramSize, HostileMmioLimit);
        if (ramSize % 8 != 0)
            throw new ArgumentOutOfRangeException(nameof(ramSize), ramSize, "Must be a multiple of 8.");

        var state = seed == 0 ? HostileDefaultSeed : seed;
        return GuestAssembly.Build("hostile", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var loop = a.CreateLabel("loop");
            var next = a.CreateLabel("next");
            var finished = a.CreateLabel("finished");
            var mmio = a.CreateLabel("mmio");

            a.mov(r8, state);
            a.mov(r9d, iterations);
            a.mov(r10, ramSize);
            a.mov(r11, HostileMmioLimit - ramSize);
            a.test(r9d, r9d);
            a.jz(finished);

            a.Label(ref loop);
            EmitXorShift(a);
            a.test(r8b, 8);
            a.jnz(mmio);
            EmitPortAccess(a, next);
            a.Label(ref mmio);
            EmitMmioAccess(a, next);
            a.Label(ref next);
            a.dec(r9d);
            a.jnz(loop);

            a.Label(ref finished);
            PowerPortEmitter.EmitPowerOff(a, 0);
        });
    }

    /// <summary>r8 = xorshift64(r8). Clobbers rax.</summary>
    private static void EmitXorShift(Assembler a)
    {
        foreach (var (left, shift) in new[] { (true, (byte)13), (false, (byte)7), (true, (byte)17) })
        {
            a.mov(rax, r8);
            if (left)
                a.shl(rax, shift);
            else
                a.shr(rax, shift);
            a.xor(r8, rax);
        }
    }

    /// <summary>One in/out chosen by r8; jumps to <paramref name="next"/>. Clobbers rax, rdx.</summary>
    private static void EmitPortAccess(Assembler a, Label next)
    {
        var write = a.CreateLabel("pio_out");
        a.mov(rdx, r8);
        a.shr(rdx, 16);                          // dx = port
        a.movzx(eax, dx);
        a.sub(eax, PortMap.PowerBase);
        a.cmp(eax, PortMap.PowerLength);
        a.jb(next);                              // never power off or post markers by accident
        a.mov(rax, r8);                          // value to write
        a.test(r8b, 1);
        a.jnz(write);
        EmitBySize(a, next, "pio_in", maxSize: 4, size =>
        {
            switch (size)
            {
                case 1: a.@in(al, dx); break;
                case 2: a.@in(ax, dx); break;
                default: a.@in(eax, dx); break;
            }
        });
        a.Label(ref write);
        EmitBySize(a, next, "pio_out", maxSize: 4, size =>
        {
            switch (size)
            {
                case 1: a.@out(dx, al); break;
                case 2: a.@out(dx, ax); break;
                default: a.@out(dx, eax); break;
            }
        });
    }

    /// <summary>One MMIO read or write chosen by r8; jumps to <paramref name="next"/>. Clobbers rax, rbx, rdx.</summary>
    private static void EmitMmioAccess(Assembler a, Label next)
    {
        var write = a.CreateLabel("mmio_write");
        a.mov(rax, r8);
        a.shr(rax, 24);
        a.xor(edx, edx);
        a.div(r11);                              // rdx = offset into [ramSize, limit)
        a.lea(rbx, __[r10 + rdx]);
        a.mov(rax, r8);                          // value to write
        a.test(r8b, 1);
        a.jnz(write);
        EmitBySize(a, next, "mmio_read", maxSize: 8, size =>
        {
            AlignRbxDown(a, size);
            switch (size)
            {
                case 1: a.mov(al, __byte_ptr[rbx]); break;
                case 2: a.mov(ax, __word_ptr[rbx]); break;
                case 4: a.mov(eax, __dword_ptr[rbx]); break;
                default: a.mov(rax, __qword_ptr[rbx]); break;
            }
        });
        a.Label(ref write);
        EmitBySize(a, next, "mmio_write", maxSize: 8, size =>
        {
            AlignRbxDown(a, size);
            switch (size)
            {
                case 1: a.mov(__byte_ptr[rbx], al); break;
                case 2: a.mov(__word_ptr[rbx], ax); break;
                case 4: a.mov(__dword_ptr[rbx], eax); break;
                default: a.mov(__qword_ptr[rbx], rax); break;
            }
        });
    }

    private static void AlignRbxDown(Assembler a, int size)
    {
        if (size > 1)
            a.and(rbx, -size);
    }

    /// <summary>
    /// Dispatches on bits 1–2 of r8: 0 → size 1, 1 → size 2, 2 → size 4, 3 → size <paramref name="maxSize"/> (4 or 8).
    /// Each case ends with a jump to <paramref name="next"/>.
    /// </summary>
    private static void EmitBySize(Assembler a, Label next, string name, int maxSize, Action<int> access)
    {
        var size2 = a.CreateLabel(name + "_2");
        var size4 = a.CreateLabel(name + "_4");
        var sizeMax = a.CreateLabel(name + "_max");
        a.test(r8b, 4);
        a.jnz(size4);
        a.test(r8b, 2);
        a.jnz(size2);
        access(1);
        a.jmp(next);
        a.Label(ref size2);
        access(2);
        a.jmp(next);
        a.Label(ref size4);
        a.test(r8b, 2);
        a.jnz(sizeMax);
        access(4);
        a.jmp(next);
        a.Label(ref sizeMax);
        access(maxSize);
        a.jmp(next);
    }
}
