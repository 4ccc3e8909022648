using Iced.Intel;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>Checks of the emulator itself, so guest tests can trust it.</summary>
public class SoftCpuTests
{
    [Theory]
    [InlineData(15u, 16u, 1u)]
    [InlineData(16u, 16u, 0u)]
    [InlineData(0xFFFF_FFFFu, 16u, 0u)]
    [InlineData(0u, 1u, 1u)]
    public void UnsignedBelowFollowsTheCarryOfCmp(uint left, uint right, uint below) =>
        Assert.Equal(below, RunToExit(a =>
        {
            var skip = a.CreateLabel("skip");
            a.mov(eax, left);
            a.mov(ecx, 0u);
            a.cmp(eax, right);
            a.jae(skip);
            a.mov(ecx, 1u);
            a.Label(ref skip);
            a.mov(eax, ecx);
        }));

    [Theory]
    [InlineData(100UL, 7UL)]
    [InlineData(0xFFFF_FFFF_FFFF_FFFFUL, 10UL)]
    [InlineData(5UL, 9UL)]
    public void DivideLeavesQuotientInRaxAndRemainderInRdx(ulong dividend, ulong divisor) =>
        Assert.Equal((uint)((dividend / divisor) ^ (dividend % divisor)), RunToExit(a =>
        {
            a.mov(rax, dividend);
            a.mov(rbx, divisor);
            a.xor(edx, edx);
            a.div(rbx);
            a.xor(rax, rdx);
        }));

    [Fact]
    public void ThirtyTwoBitWritesZeroExtendAndByteWritesMerge() =>
        Assert.Equal(0x1234_56AAu, RunToExit(a =>
        {
            a.mov(rax, 0xFFFF_FFFF_FFFF_FFFFUL);
            a.mov(eax, 0x1234_5678u);
            a.mov(al, 0xAA);
            a.shr(rax, 32);        // 0 if eax zero-extended
            a.mov(ebx, 0x1234_56AAu);
            a.add(rax, rbx);
        }));

    [Fact]
    public void AnUnmodelledInstructionFailsLoudly()
    {
        var image = GuestAssembly.Build("t", GuestLayout.ImageBase, g => g.Asm.cpuid());
        Assert.Throws<SoftwareEngineException>(() => new EmulatedMachine(image).Run());
    }

    private static uint RunToExit(Action<Assembler> body)
    {
        var machine = new EmulatedMachine(GuestAssembly.Build("t", GuestLayout.ImageBase, g =>
        {
            body(g.Asm);
            PowerPortEmitter.EmitPowerOffWithEax(g.Asm);
        }));
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        return machine.ExitCode!.Value;
    }
}
