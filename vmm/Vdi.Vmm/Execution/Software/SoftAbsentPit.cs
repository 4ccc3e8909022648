using Vdi.Vmm.State;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The software engine's side of the 8254 PIT's section: it has no PIT (its guests time with the local APIC timer), so
/// it saves the PIT as KVM creates it, no channel programmed, and restores only such a PIT, refusing a programmed
/// channel with the reason. A restore changes nothing, so the machine restores this section before any other.
/// </summary>
internal sealed class SoftAbsentPit : IDeviceState
{
    public string SectionName => PitState.SectionName;

    public ushort SectionVersion => PitState.Version;

    public void SaveState(SectionWriter section) => PitState.Unprogrammed().Write(section);

    public void RestoreState(SavedSection section)
    {
        var pit = PitState.Read(section);
        if (pit.ProgrammedChannel() is var c and >= 0)
            throw new StateFormatException($"section '{section.Name}': PIT channel {c} is programmed (mode {pit.Channels[c][PitState.Mode]}, count {pit.Channels[c][PitState.Count]}); the software engine has no PIT to run it");
    }
}
