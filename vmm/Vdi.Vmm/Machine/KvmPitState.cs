using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Machine;

/// <summary>
/// KVM's in-kernel 8254 PIT (<c>KVM_GET/SET_PIT2</c>) as the <c>pit</c> section (<see cref="PitState"/>). The load
/// time of each count is a host time and is not saved: <c>KVM_SET_PIT2</c> loads the counts anew at the call.
/// </summary>
internal sealed class KvmPitState(KvmVm vm) : IDeviceState
{
    public string SectionName => PitState.SectionName;

    public ushort SectionVersion => PitState.Version;

    public void SaveState(SectionWriter section)
    {
        var pit = vm.GetPit2();
        new PitState(pit.flags, [Fields(pit.channel0), Fields(pit.channel1), Fields(pit.channel2)]).Write(section);
    }

    public void RestoreState(SavedSection section)
    {
        var state = PitState.Read(section);
        var pit = vm.GetPit2();
        (pit.flags, pit.channel0, pit.channel1, pit.channel2) = (state.Flags, Channel(state.Channels[0]), Channel(state.Channels[1]), Channel(state.Channels[2]));
        vm.SetPit2(pit);
    }

    private static uint[] Fields(in kvm_pit_channel_state c) =>
        [c.count, c.latched_count, c.count_latched, c.status_latched, c.status, c.read_state, c.write_state, c.write_latch, c.rw_mode, c.mode, c.bcd, c.gate];

    private static kvm_pit_channel_state Channel(uint[] f) => new()
    {
        count = f[0],
        latched_count = (ushort)f[1],
        count_latched = (byte)f[2],
        status_latched = (byte)f[3],
        status = (byte)f[4],
        read_state = (byte)f[5],
        write_state = (byte)f[6],
        write_latch = (byte)f[7],
        rw_mode = (byte)f[8],
        mode = (byte)f[9],
        bcd = (byte)f[10],
        gate = (byte)f[11],
    };
}
