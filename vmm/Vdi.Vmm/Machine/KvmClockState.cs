using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Machine;

/// <summary>
/// KVM's kvmclock (<c>KVM_GET/SET_CLOCK</c>) as the <c>clock</c> section (<see cref="GuestClockState"/>): restored so
/// the guest's monotonic clock goes on from the saved value.
/// </summary>
internal sealed class KvmClockState(KvmVm vm) : IDeviceState
{
    public string SectionName => GuestClockState.SectionName;

    public ushort SectionVersion => GuestClockState.Version;

    public void SaveState(SectionWriter section) => GuestClockState.Write(section, vm.GetClock().clock);

    public void RestoreState(SavedSection section) => vm.SetClock(GuestClockState.Read(section));
}
