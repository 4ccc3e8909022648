using Vdi.Vmm.State;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The software engine's side of the 8259 PIC's section: it has no PIC (its guests route every interrupt through the
/// I/O APIC and mask LINT0), so it saves the PIC with every line masked and restores only a PIC that could deliver
/// nothing (<see cref="PicState.WhyItDelivers"/>), refusing one the guest set up to deliver, with the reason. A
/// restore changes nothing, so the machine restores this section before any other.
/// </summary>
internal sealed class SoftAbsentPic : IDeviceState
{
    public string SectionName => PicState.SectionName;

    public ushort SectionVersion => PicState.Version;

    public void SaveState(SectionWriter section) => PicState.Masked().Write(section);

    public void RestoreState(SavedSection section)
    {
        if (PicState.Read(section).WhyItDelivers() is { } reason)
            throw new StateFormatException($"section '{section.Name}': {reason}; the software engine has no PIC to deliver its interrupts");
    }
}
