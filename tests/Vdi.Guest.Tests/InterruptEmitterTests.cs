using System.Buffers.Binary;
using Iced.Intel;
using Vdi.Tests.Shared;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;

namespace Vdi.Guest.Tests;

public class InterruptEmitterTests
{
    private static readonly GuestImage s_image = BuiltInGuest.Build(counterIterations: 10);

    [Fact]
    public void TheIdtrDescribesA256GateTableInsideTheImage()
    {
        var (limit, idtBase) = ReadIdtr();
        Assert.Equal(InterruptEmitter.IdtSize - 1, limit);
        Assert.Equal(0UL, idtBase % 16);
        Assert.InRange(idtBase, GuestCode.CodeEnd(s_image), s_image.EndAddress - InterruptEmitter.IdtSize);
    }

    [Fact]
    public void ExceptionGatesLeadToStubsThatPushTheirVector()
    {
        for (var vector = 0; vector < InterruptEmitter.ExceptionCount; vector++)
        {
            var handler = GateTarget(vector);
            var stub = DecodeAt(handler, 2);
            Assert.Equal(Mnemonic.Push, stub[0].Mnemonic);
            Assert.Equal((ulong)vector, stub[0].GetImmediate(0));
            Assert.Equal(Mnemonic.Jmp, stub[1].Mnemonic);
        }
    }

    [Fact]
    public void OnlyExceptionHostRequestAndSpuriousGatesArePresent()
    {
        var idt = IdtBytes();
        for (var vector = 0; vector < 256; vector++)
        {
            var gate = idt.Slice(vector * 16, 16);
            var expectPresent = vector < 32 || vector is InterruptEmitter.HostRequestVector or InterruptEmitter.SpuriousVector;
            if (!expectPresent)
            {
                Assert.True(gate.ToArray().All(b => b == 0), $"vector {vector} should be empty");
                continue;
            }

            Assert.Equal(GuestLayout.CodeSelector, BinaryPrimitives.ReadUInt16LittleEndian(gate[2..]));
            Assert.Equal(0, gate[4]);
            Assert.Equal(InterruptEmitter.InterruptGateAttributes, gate[5]);
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(gate[12..]));
            Assert.InRange(GateTarget(vector), s_image.LoadAddress, GuestCode.CodeEnd(s_image) - 1);
        }
    }

    [Fact]
    public void TheSpuriousHandlerOnlyReturnsAndTheHostRequestHandlerEoisAndPreservesRax()
    {
        Assert.Equal([Mnemonic.Iretq], DecodeAt(GateTarget(InterruptEmitter.SpuriousVector), 1).Select(i => i.Mnemonic));
        var handler = DecodeAt(GateTarget(InterruptEmitter.HostRequestVector), 6);
        Assert.Equal(
            [Mnemonic.Push, Mnemonic.Mov, Mnemonic.Mov, Mnemonic.Mov, Mnemonic.Pop, Mnemonic.Iretq],
            handler.Select(i => i.Mnemonic));
        Assert.Equal(s_image.Symbols["host_request_pending"], handler[1].IPRelativeMemoryAddress);
        Assert.Equal(GuestLayout.LocalApicBase + ApicRegisters.EndOfInterruptRegister, handler[2].GetImmediate(1) + (ulong)handler[3].MemoryDisplacement64);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(6)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(31)]
    public void AnExceptionPrintsItsVectorAndPowersOffWith0x80PlusVector(byte vector)
    {
        var machine = new EmulatedMachine(s_image, vcpuCount: 2);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        var before = machine.Serial.Length;

        machine.Cpus[1].RaiseException(vector);

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0x80u + vector, machine.ExitCode);
        Assert.Equal($"exception {vector}\n", machine.Serial.ToString(before, machine.Serial.Length - before));
    }

    [Fact]
    public void AnUnexpectedVectorIsReportedAsSegmentNotPresent()
    {
        var machine = new EmulatedMachine(s_image, vcpuCount: 1);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());

        machine.Cpus[0].PostInterrupt(0x30);

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0x80u + 11, machine.ExitCode);
    }

    [Fact]
    public void ASpuriousInterruptIsIgnoredWithoutEoi()
    {
        var machine = new EmulatedMachine(s_image, vcpuCount: 2);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        var output = machine.Serial.ToString();

        machine.Cpus[1].PostInterrupt(InterruptEmitter.SpuriousVector);

        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        Assert.Equal(output, machine.Serial.ToString());
        Assert.Equal(0, machine.Cpus[1].EndOfInterrupts);
        Assert.True(machine.Cpus[1].InterruptsEnabled);
    }

    [Fact]
    public void WriteInterruptGateSplitsTheHandlerAddress()
    {
        var idt = new byte[InterruptEmitter.IdtSize];
        InterruptEmitter.WriteInterruptGate(idt, 3, 0x1122_3344_5566_7788);
        Assert.Equal(new byte[] { 0x88, 0x77, 0x08, 0x00, 0x00, 0x8E, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0 }, idt[48..64]);
        Assert.All(idt[..48].Concat(idt[64..]), b => Assert.Equal(0, b));
    }

    private static (ushort Limit, ulong Base) ReadIdtr()
    {
        var lidt = GuestCode.Decode(s_image).First(i => i.Mnemonic == Mnemonic.Lidt);
        var idtr = s_image.Bytes.AsSpan((int)(lidt.IPRelativeMemoryAddress - s_image.LoadAddress), 10);
        return (BinaryPrimitives.ReadUInt16LittleEndian(idtr), BinaryPrimitives.ReadUInt64LittleEndian(idtr[2..]));
    }

    private static ReadOnlySpan<byte> IdtBytes() =>
        s_image.Bytes.AsSpan((int)(ReadIdtr().Base - s_image.LoadAddress), InterruptEmitter.IdtSize);

    private static ulong GateTarget(int vector)
    {
        var gate = IdtBytes().Slice(vector * 16, 16);
        return BinaryPrimitives.ReadUInt16LittleEndian(gate)
            | ((ulong)BinaryPrimitives.ReadUInt16LittleEndian(gate[6..]) << 16)
            | ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(gate[8..]) << 32);
    }

    private static List<Instruction> DecodeAt(ulong address, int count)
    {
        var offset = (int)(address - s_image.LoadAddress);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(s_image.Bytes, offset, s_image.Bytes.Length - offset), address);
        return Enumerable.Range(0, count).Select(_ => decoder.Decode()).ToList();
    }
}
