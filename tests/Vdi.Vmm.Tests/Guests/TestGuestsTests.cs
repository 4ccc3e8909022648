using BusAccess = Vdi.Tests.Shared.Emulation.BusAccess;
using Iced.Intel;
using Vdi.Guest.Bench;
using Vdi.Tests.Shared;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Images;

namespace Vdi.Vmm.Tests.Guests;

public class TestGuestsTests
{
    public static TheoryData<string> AllGuests() =>
        ["power-off", "write-one-page", "write-qword", "triple-fault", "exit-loop", "hostile", "hypercall-echo", "idle-halt"];

    [Theory]
    [MemberData(nameof(AllGuests))]
    public void EveryGuestDecodesCleanlyAtTheImageBase(string name)
    {
        var image = ByName(name);
        Assert.Equal(name, image.Name);
        Assert.Equal(GuestLayout.ImageBase, image.LoadAddress);
        Assert.Equal(GuestLayout.ImageBase, image.EntryPoint);
        Assert.NotEmpty(GuestCode.Decode(image));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(0xDEAD_BEEFu)]
    public void PowerOffExitsWithItsCode(uint code)
    {
        var machine = new EmulatedMachine(TestGuests.PowerOff(code));
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(code, machine.ExitCode);
        Assert.Equal(PortMap.PowerOff, Assert.Single(machine.PortAccesses).Address);
    }

    [Fact]
    public void ExitLoopIsExactlyTheBenchmarkSequence()
    {
        var image = ExitLoopGuest.Build(1000);
        byte[] expected =
        [
            0xB9, 0xE8, 0x03, 0x00, 0x00,       // mov ecx, 1000
            0x66, 0xBA, 0x20, 0x05,             // mov dx, 0x520 (NullDevice)
            0xEE,                               // L: out dx, al
            0xFF, 0xC9,                         // dec ecx
            0x75, 0xFB,                         // jnz L
            0xB8, 0x00, 0x00, 0x00, 0x00,       // mov eax, 0
            0x66, 0xBA, 0x00, 0x05,             // mov dx, 0x500 (PowerOff)
            0xEF,                               // out dx, eax
            0xFA,                               // cli
            0xF4,                               // H: hlt
            0xEB, 0xFD,                         // jmp H
        ];
        Assert.Equal(expected, image.Bytes);
        Assert.Equal(
            [Code.Mov_r32_imm32, Code.Mov_r16_imm16, Code.Out_DX_AL, Code.Dec_rm32, Code.Jne_rel8_64,
             Code.Mov_r32_imm32, Code.Mov_r16_imm16, Code.Out_DX_EAX, Code.Cli, Code.Hlt, Code.Jmp_rel8_64],
            GuestCode.Decode(image).Select(i => i.Code));
    }

    [Theory]
    [InlineData(0x10_0000UL)]
    [InlineData(0x20_0000UL)]
    [InlineData(0x12_3457UL)]
    public void ExitLoopRunsTheSameWherever(ulong loadAddress)
    {
        var machine = new EmulatedMachine(ExitLoopGuest.Build(7), loadAddress: loadAddress);
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(7, machine.NullDeviceWrites);
        Assert.Equal(0u, machine.ExitCode);
    }

    [Fact]
    public void ExitLoopNeedsAtLeastOneIteration() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ExitLoopGuest.Build(0));

    [Fact]
    public void WriteOnePageHasExactlyOneMemoryWriteAndNoStackUse()
    {
        const ulong Target = 0x30_1234;
        var code = GuestCode.Decode(TestGuests.WriteOnePage(Target));
        var factory = new InstructionInfoFactory();
        var writes = code.SelectMany(i => factory.GetInfo(i).GetUsedMemory())
            .Where(m => m.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite)
            .ToList();
        var write = Assert.Single(writes);
        Assert.Equal(MemorySize.UInt8, write.MemorySize);
        Assert.DoesNotContain(code, i => i.StackPointerIncrement != 0);
        Assert.Contains(code, i => GuestCode.MovesImmediate(i, Register.RAX, Target));
    }

    [Fact]
    public void WriteOnePageWritesOneByteThenPowersOff()
    {
        const ulong Target = 0x30_1234;
        var machine = new EmulatedMachine(TestGuests.WriteOnePage(Target)) { RecordRamWrites = true };
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0u, machine.ExitCode);
        Assert.Equal([(Target, 1)], machine.RamWrites);
        Assert.Equal(1, machine.Ram[Target]);
    }

    [Fact]
    public void WriteQwordStoresEightBytesOnce()
    {
        const ulong Address = 0x1000_0008, Value = 0x0123_4567_89AB_CDEF;
        var machine = new EmulatedMachine(TestGuests.WriteQword(Address, Value)) { RecordRamWrites = true };
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0u, machine.ExitCode);
        Assert.Equal(new BusAccess(Address, 8, IsWrite: true, Value, 0), Assert.Single(machine.UnclaimedMmio));
        Assert.Empty(machine.RamWrites);
    }

    [Fact]
    public void TripleFaultShutsTheMachineDown()
    {
        var image = TestGuests.TripleFault();
        Assert.Equal([Mnemonic.Lidt, Mnemonic.Ud2], GuestCode.WithoutPadding(GuestCode.Decode(image)).Select(i => i.Mnemonic));
        var machine = new EmulatedMachine(image);
        Assert.Equal(EmulationOutcome.TripleFault, machine.Run());
        Assert.Empty(machine.Serial.ToString());
    }

    [Fact]
    public void HypercallEchoPassesItsArgumentsAndExitsWithTheResult()
    {
        var machine = new EmulatedMachine(TestGuests.HypercallEcho(42, 0xAAAA_BBBB_CCCC_DDDD));
        (uint Number, ulong Rbx, ulong Rcx, ulong Rsi, ulong Rdi)? seen = null;
        machine.Hypercall = (cpu, number) =>
        {
            var r = cpu.Registers;
            seen = (number, r[(int)SoftCpu.Gpr.Rbx], r[(int)SoftCpu.Gpr.Rcx], r[(int)SoftCpu.Gpr.Rsi], r[(int)SoftCpu.Gpr.Rdi]);
            return 0xFFFF_FFFF_0000_0000 | (number + 1);
        };

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal((42u, 0xAAAA_BBBB_CCCC_DDDDUL, 0UL, 0UL, 0UL), seen);
        Assert.Equal(43u, machine.ExitCode);
    }

    [Fact]
    public void IdleHaltStaysHaltedWithInterruptsOff()
    {
        var image = TestGuests.IdleHalt();
        Assert.Equal([Mnemonic.Cli, Mnemonic.Hlt, Mnemonic.Jmp], GuestCode.Decode(image).Select(i => i.Mnemonic));
        var machine = new EmulatedMachine(image);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        Assert.Null(machine.ExitCode);
        Assert.False(machine.Cpus[0].InterruptsEnabled);
        Assert.Empty(machine.PortAccesses);
    }

    private static GuestImage ByName(string name) => name switch
    {
        "power-off" => TestGuests.PowerOff(3),
        "write-one-page" => TestGuests.WriteOnePage(0x20_0000),
        "write-qword" => TestGuests.WriteQword(0x20_0000, 5),
        "triple-fault" => TestGuests.TripleFault(),
        "exit-loop" => ExitLoopGuest.Build(10),
        "hostile" => TestGuests.Hostile(1, 10, GuestLayout.MinimumMemory),
        "hypercall-echo" => TestGuests.HypercallEcho(1, 2),
        "idle-halt" => TestGuests.IdleHalt(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };
}
