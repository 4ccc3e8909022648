using Iced.Intel;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>Checks of the instructions the desktop guest added to the emulator: rep stos/movsd, imul, cmov.</summary>
public class SoftCpuStringTests
{
    private const uint Buffer = 0x30_0000;

    [Fact]
    public void RepStosdFillsRcxDwordsAndAdvancesRdi()
    {
        var machine = Run(a =>
        {
            a.mov(edi, Buffer);
            a.mov(eax, 0x1122_3344u);
            a.mov(ecx, 3);
            a.rep.stosd();
            a.mov(rax, rdi);
            a.sub(eax, Buffer);
            a.add(eax, ecx); // 12 + 0
        }, out var exit);
        Assert.Equal(12u, exit);
        for (var i = 0; i < 3; i++)
            Assert.Equal(0x1122_3344u, BitConverter.ToUInt32(machine.Ram, (int)Buffer + (i * 4)));
        Assert.Equal(0u, BitConverter.ToUInt32(machine.Ram, (int)Buffer + 12));
    }

    [Fact]
    public void RepMovsdCopiesUpwards()
    {
        var machine = Run(a =>
        {
            a.mov(edi, Buffer);
            a.mov(__dword_ptr[rdi], 7u);
            a.mov(__dword_ptr[rdi + 4], 9u);
            a.mov(esi, Buffer);
            a.mov(edi, Buffer + 0x100);
            a.mov(ecx, 2);
            a.rep.movsd();
            a.mov(eax, esi);
            a.sub(eax, Buffer); // 8
        }, out var exit);
        Assert.Equal(8u, exit);
        Assert.Equal(7u, BitConverter.ToUInt32(machine.Ram, (int)Buffer + 0x100));
        Assert.Equal(9u, BitConverter.ToUInt32(machine.Ram, (int)Buffer + 0x104));
    }

    [Theory]
    [InlineData(6, 7, 42u)]
    [InlineData(-3, 5, unchecked((uint)-15))]
    public void ImulTruncatesTheSignedProduct(int left, int right, uint product)
    {
        Run(a =>
        {
            a.mov(ecx, left);
            a.imul(eax, ecx, right);
        }, out var three);
        Run(a =>
        {
            a.mov(eax, left);
            a.mov(ecx, right);
            a.imul(eax, ecx);
        }, out var two);
        Assert.Equal(product, three);
        Assert.Equal(product, two);
    }

    [Theory]
    [InlineData(5u, 3u, 3u)]
    [InlineData(2u, 3u, 2u)]
    public void CmovaTakesTheSourceOnlyWhenAbove(uint value, uint limit, uint result)
    {
        Run(a =>
        {
            a.mov(eax, value);
            a.mov(ecx, limit);
            a.cmp(eax, ecx);
            a.cmova(eax, ecx);
        }, out var exit);
        Assert.Equal(result, exit);
    }

    private static EmulatedMachine Run(Action<Assembler> body, out uint exitCode)
    {
        var machine = new EmulatedMachine(GuestAssembly.Build("t", GuestLayout.ImageBase, g =>
        {
            body(g.Asm);
            PowerPortEmitter.EmitPowerOffWithEax(g.Asm);
        }), ramSize: 4UL << 20);
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        exitCode = machine.ExitCode!.Value;
        return machine;
    }
}
