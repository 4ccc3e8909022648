using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.X86Constants;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// Whether a KVM vCPU's state is what the software engine models, so only the general registers, RIP, RFLAGS and the
/// IDT register and control registers need to move: CPL 0 in 64-bit long mode with flat code and stack segments, paging
/// on with any page tables but only CR4 features the engine models (<see cref="SoftCpu.Models"/>: no PCIDE, LA57, SMEP,
/// SMAP, ...), RFLAGS without DF/TF/AC and the like, and no
/// event KVM still has to inject (exception, interrupt, NMI) nor an interrupt shadow. FS/GS bases may be anything:
/// instructions using those segments end a slice. A plain function, tested without KVM.
/// </summary>
internal static class KvmStateCheck
{
    public static SwitchRefusal? Refusal(in kvm_sregs s, in kvm_vcpu_events e, ulong rflags)
    {
        var cs = s.cs;
        var ss = s.ss;
        if (cs.l != 1 || cs.present != 1 || cs.dpl != 0 || (cs.selector & 3) != 0 || cs.@base != 0 || ss.dpl != 0)
            return SwitchRefusal.Segments;
        if (!SoftCpu.Models(new SoftControlRegisters(s.cr0, s.cr2, s.cr3, s.cr4, s.efer)))
            return SwitchRefusal.ControlRegisters;
        if ((rflags & ~(SoftCpu.ModelledFlags | SoftCpu.CarriedFlags)) != 0)
            return SwitchRefusal.Flags;
        if (e.exception_injected != 0 || e.exception_pending != 0 || e.interrupt_injected != 0 || e.interrupt_shadow != 0
            || e.nmi_injected != 0 || e.nmi_pending != 0 || e.triple_fault_pending != 0)
            return SwitchRefusal.PendingEvent;
        return null;
    }
}
