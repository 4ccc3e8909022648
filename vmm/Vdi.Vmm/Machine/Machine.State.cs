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
}
