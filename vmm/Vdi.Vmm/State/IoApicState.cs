namespace Vdi.Vmm.State;

/// <summary>
/// The I/O APIC's section (<c>ioapic</c>, version 2), the same on both engines: the software engine's
/// <c>SoftIoApic</c> and KVM's in-kernel one convert to and from it. <c>redirection</c>: 24 pins × (low, high) dwords,
/// Remote IRR (bit 14 of the low dword) held apart in <c>remote_irr</c> (one 0/1 per pin); <c>select</c>: IOREGSEL;
/// <c>irr</c>: a bit per pin with a request the I/O APIC holds — an edge that came while the pin was masked, or a level
/// line that is high (levels are the devices': they raise them again on restore, so a level bit is informational);
/// <c>id</c>: the I/O APIC ID (bits 24–27 of register 0). The base address is not in it: both engines place the I/O
/// APIC at the same address.
/// </summary>
public sealed record IoApicState
{
    public const string SectionName = "ioapic";
    public const ushort Version = 2;
    public const int Pins = 24;
    public const uint RemoteIrrBit = 1u << 14;

    /// <summary>Low and high dword of each pin's entry, Remote IRR clear.</summary>
    public required uint[] Redirection { get; init; }

    public required bool[] RemoteIrr { get; init; }

    public required uint Select { get; init; }

    public required uint Irr { get; init; }

    public required byte Id { get; init; }

    public void Write(SectionWriter section) => section
        .U64s("redirection", [.. Redirection.Select(r => (ulong)r)])
        .U64("select", Select)
        .U64s("remote_irr", [.. RemoteIrr.Select(b => b ? 1UL : 0)])
        .U64("irr", Irr)
        .U64("id", Id);

    /// <summary>Reads and checks every field; none left unread.</summary>
    public static IoApicState Read(SavedSection section)
    {
        if (section.Version < Version)
            throw new StateFormatException($"section '{section.Name}' is version {section.Version}: without the I/O APIC's IRR and ID it does not restore it whole");
        var redirection = section.U64s("redirection");
        var remote = section.U64s("remote_irr");
        var state = new IoApicState
        {
            Select = (uint)section.U64("select", 0, uint.MaxValue),
            Irr = (uint)section.U64("irr", 0, (1UL << Pins) - 1),
            Id = (byte)section.U64("id", 0, 15),
            Redirection = [.. redirection.Select(r => (uint)r)],
            RemoteIrr = [.. remote.Select(r => r == 1)],
        };
        if (redirection.Length != Pins * 2 || remote.Length != Pins || redirection.Any(r => r > uint.MaxValue) || remote.Any(r => r > 1))
            throw new StateFormatException($"section '{section.Name}': the redirection table or Remote IRR is not {Pins} pins");
        if (state.Redirection.Where((_, i) => i % 2 == 0).Any(low => (low & RemoteIrrBit) != 0))
            throw new StateFormatException($"section '{section.Name}': Remote IRR belongs in 'remote_irr', not in a redirection entry");
        section.EnsureAllRead();
        return state;
    }

    /// <summary>Whether pin <paramref name="pin"/> is level-triggered (bit 15 of its low dword).</summary>
    public bool IsLevelTriggered(int pin) => (Redirection[pin * 2] & (1u << 15)) != 0;
}
