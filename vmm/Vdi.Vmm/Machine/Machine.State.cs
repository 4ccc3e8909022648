using Vdi.Vmm.State;

namespace Vdi.Vmm.Machine;

/// <summary>The machine's vCPUs saved to and restored from the state format (<c>docs/vmm.md</c>, "Machine state").</summary>
public sealed partial class Machine
{
    /// <summary>Writes every vCPU's section (<c>vcpu.0</c>, …). The machine must be paused, not started, or ended.</summary>
    public void SaveVcpus(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (State == MachineState.Running)
            throw new InvalidOperationException("the machine is running: pause it before saving its vCPUs");
        for (var i = 0; i < _vcpus.Length; i++)
            _vcpus[i].SaveState().Write(writer, i);
    }

    /// <summary>
    /// Restores every vCPU from <paramref name="state"/> before the machine starts. All sections are read and checked
    /// first, so a state that does not restore (a missing vCPU, a field out of range, registers this engine cannot run)
    /// changes nothing and says why (<see cref="StateFormatException"/>).
    /// </summary>
    public void RestoreVcpus(SavedState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (State != MachineState.Created)
            throw new InvalidOperationException($"vCPUs are restored before the machine starts; it is {State}");
        var snapshots = Enumerable.Range(0, _vcpus.Length).Select(i => VcpuSnapshot.Read(state, i)).ToList();
        if (state.TryTake(VcpuSnapshot.SectionName(_vcpus.Length), VcpuSnapshot.Version) is not null)
            throw new StateFormatException($"the state holds more vCPUs than this machine's {_vcpus.Length}");
        for (var i = 0; i < _vcpus.Length; i++)
            _vcpus[i].CheckState(snapshots[i]); // every vCPU's refusal before any vCPU changes
        for (var i = 0; i < _vcpus.Length; i++)
            _vcpus[i].RestoreState(snapshots[i]);
    }

    /// <summary>
    /// Writes the platform's sections — the interrupt controllers (<c>pic</c>, <c>ioapic</c>), the PIT (<c>pit</c>) and
    /// the guest's clock (<c>clock</c>): KVM's in-kernel ones, or the software engine's — then every device's
    /// (<see cref="MachineDevices.States"/>). The machine must be paused, not started, or ended.
    /// </summary>
    public void SaveDevices(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (State == MachineState.Running)
            throw new InvalidOperationException("the machine is running: pause it before saving its devices");
        foreach (var device in _platform.Concat(Devices.States).Concat(Protection))
            writer.Section(device.SectionName, device.SectionVersion, device.SaveState);
    }

    /// <summary>
    /// Restores the platform and every device from <paramref name="state"/> before the machine starts (guest memory
    /// first: a live virtio device is activated on its restored queues). The interrupt controllers come first, so the
    /// devices, which raise their lines again, are heard; on the software engine the absent PIC and PIT come before
    /// them, as they only check (refuse a programmed PIT or a PIC that would deliver) and change nothing. A device whose
    /// section does not restore refuses it before changing.
    /// </summary>
    public void RestoreDevices(SavedState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (State != MachineState.Created)
            throw new InvalidOperationException($"devices are restored before the machine starts; it is {State}");
        var sections = _platform.Concat(Devices.States).Concat(Protection).Select(d => (Device: d, Section: state.Take(d.SectionName, d.SectionVersion))).ToList();
        foreach (var (device, section) in sections)
            device.RestoreState(section);
    }

    /// <summary>Guest integrity's sections, after the devices': the driver's protections and its privileged code.</summary>
    private IEnumerable<IDeviceState> Protection => [Integrity, Privileged];

    /// <summary>
    /// Stops (or restarts) the devices' writes into guest memory from host threads — an input event arriving while the
    /// vCPUs are paused waits in its device and is saved with it — so memory and device state stay one consistent
    /// picture while a paused machine is saved. vCPU-driven device work needs no such stop: the vCPUs are parked.
    /// </summary>
    public void QuiesceDevices(bool quiesced)
    {
        foreach (var transport in Devices.Transports)
            transport.Quiesce(quiesced);
    }

    /// <summary>The whole machine state — every vCPU, the interrupt controller and every device — in the state format.</summary>
    public byte[] SaveState()
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        SaveVcpus(writer);
        SaveDevices(writer);
        writer.Finish();
        return stream.ToArray();
    }

    /// <summary>
    /// Restores vCPUs and devices from a state written by <see cref="SaveState"/> before the machine starts; a section
    /// left over (a device this machine lacks) is refused by name. A state that does not restore leaves the machine
    /// unfit to start: discard it.
    /// </summary>
    public void RestoreState(SavedState state)
    {
        RestoreVcpus(state);
        RestoreDevices(state);
        state.EnsureAllTaken();
    }
}
