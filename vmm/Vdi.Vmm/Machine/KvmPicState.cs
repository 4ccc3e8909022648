using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Machine;

/// <summary>KVM's in-kernel 8259 PICs (<c>KVM_GET/SET_IRQCHIP</c>, chips <c>KVM_IRQCHIP_PIC_MASTER</c> and <c>_SLAVE</c>) as the <c>pic</c> section (<see cref="PicState"/>).</summary>
internal sealed class KvmPicState(KvmVm vm) : IDeviceState
{
    public string SectionName => PicState.SectionName;

    public ushort SectionVersion => PicState.Version;

    public void SaveState(SectionWriter section) =>
        new PicState(Bytes(vm.GetIrqchip(KvmConstants.KVM_IRQCHIP_PIC_MASTER).pic), Bytes(vm.GetIrqchip(KvmConstants.KVM_IRQCHIP_PIC_SLAVE).pic)).Write(section);

    public void RestoreState(SavedSection section)
    {
        var state = PicState.Read(section);
        vm.SetIrqchip(new kvm_irqchip { chip_id = KvmConstants.KVM_IRQCHIP_PIC_MASTER, pic = Chip(state.Master) });
        vm.SetIrqchip(new kvm_irqchip { chip_id = KvmConstants.KVM_IRQCHIP_PIC_SLAVE, pic = Chip(state.Slave) });
    }

    /// <summary>The struct's 16 bytes are the section's fields in order (<see cref="PicState.Fields"/>).</summary>
    private static byte[] Bytes(kvm_pic_state pic) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(new ReadOnlySpan<kvm_pic_state>(in pic)).ToArray();

    private static kvm_pic_state Chip(byte[] bytes) => System.Runtime.InteropServices.MemoryMarshal.Read<kvm_pic_state>(bytes);
}
