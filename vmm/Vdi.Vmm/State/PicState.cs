namespace Vdi.Vmm.State;

/// <summary>
/// The two 8259 PICs' section (<c>pic</c>, version 1): per chip (<c>master_</c>, <c>slave_</c>) the registers and
/// the initialisation state of KVM's in-kernel PIC, each a byte: <see cref="Fields"/>. The software engine has no PIC;
/// it writes <see cref="Masked"/> and takes a state only when the PIC could deliver nothing (<see cref="WhyItDelivers"/>).
/// </summary>
public sealed record PicState(byte[] Master, byte[] Slave)
{
    public const string SectionName = "pic";
    public const ushort Version = 1;

    /// <summary>The fields of a chip, in <c>kvm_pic_state</c>'s order.</summary>
    public static IReadOnlyList<string> Fields { get; } =
    [
        "last_irr", "irr", "imr", "isr", "priority_add", "irq_base", "read_reg_select", "poll", "special_mask",
        "init_state", "auto_eoi", "rotate_on_auto_eoi", "special_fully_nested_mode", "init4", "elcr", "elcr_mask",
    ];

    public const int Irr = 1, Imr = 2, Isr = 3, IrqBase = 5, InitState = 9, Init4 = 13, ElcrMask = 15;

    /// <summary>The PICs as KVM creates them, with every line masked: what the software engine, which has none, saves.</summary>
    public static PicState Masked()
    {
        var master = new byte[Fields.Count];
        var slave = new byte[Fields.Count];
        (master[Imr], slave[Imr]) = (0xFF, 0xFF);
        (master[ElcrMask], slave[ElcrMask]) = (0xF8, 0xDE); // the lines whose trigger mode the ELCR may set, as KVM has them
        return new PicState(master, slave);
    }

    public void Write(SectionWriter section)
    {
        for (var i = 0; i < Fields.Count; i++)
            section.U64($"master_{Fields[i]}", Master[i]).U64($"slave_{Fields[i]}", Slave[i]);
    }

    public static PicState Read(SavedSection section)
    {
        var master = new byte[Fields.Count];
        var slave = new byte[Fields.Count];
        for (var i = 0; i < Fields.Count; i++)
        {
            master[i] = (byte)section.U64($"master_{Fields[i]}", 0, byte.MaxValue);
            slave[i] = (byte)section.U64($"slave_{Fields[i]}", 0, byte.MaxValue);
        }
        section.EnsureAllRead();
        return new PicState(master, slave);
    }

    /// <summary>
    /// Why this PIC could deliver an interrupt, or null when it cannot: a chip delivers nothing when nothing is in
    /// service and either every line is masked or the guest never initialised it (no ICW sequence: vector base 0, no
    /// ICW4 — its requests are then only the ISA lines' levels, which the I/O APIC routes; the guests mask LINT0).
    /// </summary>
    public string? WhyItDelivers()
    {
        foreach (var (name, chip) in (ReadOnlySpan<(string, byte[])>)[("master", Master), ("slave", Slave)])
        {
            if (chip[Isr] != 0)
                return $"the PIC {name} has interrupts in service (ISR 0x{chip[Isr]:X2})";
            var initialised = chip[IrqBase] != 0 || chip[Init4] != 0 || chip[InitState] != 0;
            if (initialised && chip[Imr] != 0xFF)
                return $"the PIC {name} is initialised (vector base 0x{chip[IrqBase]:X2}) with lines unmasked (IMR 0x{chip[Imr]:X2})";
        }
        return null;
    }
}
