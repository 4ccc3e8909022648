namespace Vdi.Vmm.State;

/// <summary>
/// A device that saves and restores itself as one section of the state format. Saved while the vCPUs are parked;
/// restored before they start. A restore checks every value as the device would check the guest's own writes and
/// refuses (a <see cref="StateFormatException"/> naming the field) what the device could never have been in.
/// </summary>
public interface IDeviceState
{
    /// <summary>The section's name, unique in a machine (<c>uart.com1</c>, <c>virtio.0</c>, …).</summary>
    string SectionName { get; }

    ushort SectionVersion { get; }

    void SaveState(SectionWriter section);

    void RestoreState(SavedSection section);
}
