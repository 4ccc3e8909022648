using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Software;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>The emulated I/O APIC delivers like KVM's: edges once, level lines until acknowledged.</summary>
public class SoftIoApicTests
{
    private const int Pin = 16;
    private const byte Vector = 0x30;

    [Fact]
    public void A_level_line_delivers_once_per_eoi_while_high()
    {
        var delivered = new List<byte>();
        var ioApic = Route(delivered, level: true);
        var line = ioApic.Line(Pin);

        line.SetLevel(true);
        line.SetLevel(true);
        Assert.Single(delivered); // Remote IRR holds it until the EOI

        ioApic.EndOfInterrupt(Vector);
        Assert.Equal(2, delivered.Count); // still high: delivered again

        line.SetLevel(false);
        ioApic.EndOfInterrupt(Vector);
        Assert.Equal(2, delivered.Count);
    }

    [Fact]
    public void Unmasking_a_high_level_line_delivers_it_and_a_masked_pin_never_does()
    {
        var delivered = new List<byte>();
        var ioApic = new SoftIoApic((vector, _) => delivered.Add(vector));
        ioApic.Line(Pin).SetLevel(true);
        Assert.Empty(delivered);

        Program(ioApic, Vector | ApicRegisters.RedirectionLevelTriggered);
        Assert.Equal([Vector], delivered);
    }

    [Fact]
    public void An_edge_line_delivers_on_each_rising_edge_only()
    {
        var delivered = new List<byte>();
        var line = Route(delivered, level: false).Line(Pin);
        line.SetLevel(true);
        line.SetLevel(true);
        line.SetLevel(false);
        line.SetLevel(true);
        Assert.Equal(2, delivered.Count);
    }

    private static SoftIoApic Route(List<byte> delivered, bool level)
    {
        var ioApic = new SoftIoApic((vector, _) => delivered.Add(vector));
        Program(ioApic, Vector | (level ? ApicRegisters.RedirectionLevelTriggered : 0));
        return ioApic;
    }

    private static void Program(SoftIoApic ioApic, uint low)
    {
        ioApic.Write(ApicRegisters.IoRegisterSelect, ApicRegisters.IoRedirectionTable + (2 * Pin) + 1);
        ioApic.Write(ApicRegisters.IoWindow, 0);
        ioApic.Write(ApicRegisters.IoRegisterSelect, ApicRegisters.IoRedirectionTable + (2 * Pin));
        ioApic.Write(ApicRegisters.IoWindow, low);
    }
}
