using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Machine;

/// <summary>
/// KVM's in-kernel I/O APIC (<c>KVM_GET/SET_IRQCHIP</c>, chip <c>KVM_IRQCHIP_IOAPIC</c>) in the section the software
/// engine's I/O APIC writes (<see cref="IoApicState"/>): each 64-bit redirection entry split into its dwords with
/// Remote IRR (bit 14) taken out, IOREGSEL, IRR and the ID. The base address stays the VM's own.
/// </summary>
internal sealed unsafe class KvmIoApicState(KvmVm vm) : IDeviceState
{
    public string SectionName => IoApicState.SectionName;

    public ushort SectionVersion => IoApicState.Version;

    public void SaveState(SectionWriter section)
    {
        var chip = vm.GetIrqchip(KvmConstants.KVM_IRQCHIP_IOAPIC);
        var io = chip.ioapic;
        var redirection = new uint[IoApicState.Pins * 2];
        var remote = new bool[IoApicState.Pins];
        for (var pin = 0; pin < IoApicState.Pins; pin++)
        {
            // SAFETY: redirtbl is a fixed buffer of KVM_IOAPIC_NUM_PINS (24) entries inside the local copy.
            var entry = io.redirtbl[pin];
            redirection[pin * 2] = (uint)entry & ~IoApicState.RemoteIrrBit;
            redirection[(pin * 2) + 1] = (uint)(entry >> 32);
            remote[pin] = ((uint)entry & IoApicState.RemoteIrrBit) != 0;
        }
        new IoApicState { Redirection = redirection, RemoteIrr = remote, Select = io.ioregsel, Irr = io.irr, Id = (byte)(io.id & 0xF) }.Write(section);
    }

    public void RestoreState(SavedSection section)
    {
        var state = IoApicState.Read(section);
        var chip = vm.GetIrqchip(KvmConstants.KVM_IRQCHIP_IOAPIC); // keeps the base address
        chip.ioapic.ioregsel = state.Select;
        chip.ioapic.id = state.Id;
        chip.ioapic.irr = state.Irr;
        for (var pin = 0; pin < IoApicState.Pins; pin++)
        {
            var low = state.Redirection[pin * 2] | (state.RemoteIrr[pin] ? IoApicState.RemoteIrrBit : 0);
            // SAFETY: redirtbl is a fixed buffer of 24 entries inside the local copy; pin < 24.
            chip.ioapic.redirtbl[pin] = low | ((ulong)state.Redirection[(pin * 2) + 1] << 32);
        }
        vm.SetIrqchip(chip);
    }
}
