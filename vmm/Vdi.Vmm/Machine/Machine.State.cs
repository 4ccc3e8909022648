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
            _vcpus[i].RestoreState(snapshots[i]);
    }

    /// <summary>
    /// Writes the interrupt controller's section and every device's (<see cref="MachineDevices.States"/>). The machine
    /// must be paused, not started, or ended. A KVM machine's in-kernel irqchip is not saved yet, so its devices are
    /// refused rather than saved without the routes that deliver their interrupts.
    /// </summary>
    public void SaveDevices(StateWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (State == MachineState.Running)
            throw new InvalidOperationException("the machine is running: pause it before saving its devices");
        if (_interruptController is not { } controller)
            throw new InvalidOperationException("a KVM machine's devices are not saved yet: its in-kernel irqchip's state (KVM_GET_IRQCHIP) is still to come");
        writer.Section(controller.SectionName, controller.SectionVersion, controller.SaveState);
        foreach (var device in Devices.States)
            writer.Section(device.SectionName, device.SectionVersion, device.SaveState);
    }

    /// <summary>
    /// Restores every device from <paramref name="state"/> before the machine starts (guest memory first: a live virtio
    /// device is activated on its restored queues). A device whose section does not restore refuses it before changing.
    /// </summary>
    public void RestoreDevices(SavedState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (State != MachineState.Created)
            throw new InvalidOperationException($"devices are restored before the machine starts; it is {State}");
        if (_interruptController is not { } controller)
            throw new InvalidOperationException("a KVM machine's devices are not restored yet: its in-kernel irqchip's state is still to come");
        IReadOnlyList<IDeviceState> devices = [controller, .. Devices.States]; // routes first: devices raise their lines again
        var sections = devices.Select(d => (Device: d, Section: state.Take(d.SectionName, d.SectionVersion))).ToList();
        foreach (var (device, section) in sections)
            device.RestoreState(section);
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
