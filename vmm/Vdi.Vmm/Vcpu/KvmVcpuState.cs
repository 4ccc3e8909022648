using System.Buffers.Binary;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Vcpu;

/// <summary>
/// A KVM vCPU's state to and from the engine-neutral <see cref="VcpuSnapshot"/>: <c>KVM_GET/SET_REGS</c>, the control
/// registers, segments, GDT and IDT of <c>KVM_GET/SET_SREGS</c>, the MSRs of <see cref="ModelSpecificRegisters.Saved"/>
/// (<see cref="KvmMsrState"/>), the x87/SSE state as the legacy region of <c>KVM_GET/SET_XSAVE</c> — not
/// <c>KVM_GET_FPU</c>, whose MXCSR is the raw buffer's (0 on a vCPU that never used SSE, and a KVM_SET_FPU'd one read
/// back as 0 on some hosts); a vCPU with AVX or later state in use is refused rather than saved without it —,
/// the in-kernel local APIC's page (IRR and ISR taken out into their sets, the timer's current count turned into time
/// left), the interrupt shadow of <c>KVM_GET/SET_VCPU_EVENTS</c> and the MP state (halted or runnable). Only while the
/// vCPU is out of <c>KVM_RUN</c>.
/// </summary>
internal static class KvmVcpuState
{
    private const int IsrOffset = 0x100, IrrOffset = 0x200, IdOffset = 0x20, VersionOffset = 0x30;
    private const int TimerCurrentOffset = 0x390, TimerDivideOffset = 0x3E0, TimerInitialOffset = 0x380, LvtTimerOffset = 0x320;
    private const uint LvtTimerModeMask = 3u << 17, LvtTimerPeriodic = 1u << 17;
    private const uint ValidShadow = 0x4; // KVM_VCPUEVENT_VALID_SHADOW

    public static VcpuSnapshot Save(KvmVcpu vcpu)
    {
        var events = vcpu.GetVcpuEvents();
        if (events.exception_injected != 0 || events.exception_pending != 0 || events.nmi_injected != 0)
            throw new InvalidOperationException($"vcpu {vcpu.Id} is delivering an exception or NMI; its state is saved once that is done");
        var r = vcpu.GetRegs();
        var s = vcpu.GetSregs();
        var msrs = KvmMsrState.Save(vcpu);
        var fpu = KvmRegisterConversion.ToFxsave(vcpu.GetXsave())
            ?? throw new InvalidOperationException($"vcpu {vcpu.Id} holds extended (AVX or later) state, which the format does not carry");
        var page = vcpu.GetLapic();
        var irr = Set(page, IrrOffset);
        var isr = Set(page, IsrOffset);
        if (events.interrupt_injected != 0) // taken into service but not yet delivered: requested again, as before the take
        {
            var vector = events.interrupt_nr;
            isr[vector >> 6] &= ~(1UL << (vector & 63));
            irr[vector >> 6] |= 1UL << (vector & 63);
        }
        var timer = TimerLeft(page);
        Clear(page, IrrOffset);
        Clear(page, IsrOffset);
        page.AsSpan(TimerCurrentOffset, 4).Clear();
        return new VcpuSnapshot
        {
            Gprs = [r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15],
            Rip = r.rip,
            Rflags = r.rflags,
            Cr0 = s.cr0,
            Cr2 = s.cr2,
            Cr3 = s.cr3,
            Cr4 = s.cr4,
            Efer = s.efer,
            IdtBase = s.idt.@base,
            IdtLimit = s.idt.limit,
            Segments = KvmRegisterConversion.ToSegments(s),
            GdtBase = s.gdt.@base,
            GdtLimit = s.gdt.limit,
            Msrs = msrs,
            Fpu = fpu,
            Halted = vcpu.GetMpState() == KvmConstants.KVM_MP_STATE_HALTED,
            InterruptShadow = events.interrupt_shadow != 0,
            InstructionsRetired = 0, // KVM does not count them
            Apic = page,
            ApicTimerNanoseconds = timer,
            Irr = irr,
            Isr = isr,
        };
    }

    /// <summary>Refuses (nothing changed) what this host's KVM cannot take: an MSR value it does not list.</summary>
    public static void Check(KvmVcpu vcpu, VcpuSnapshot snapshot) => KvmMsrState.Check(vcpu, snapshot.Msrs);

    public static void Restore(KvmVcpu vcpu, VcpuSnapshot snapshot)
    {
        Check(vcpu, snapshot);
        var g = snapshot.Gprs;
        var r = vcpu.GetRegs();
        (r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi) = (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
        (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) = (g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
        (r.rip, r.rflags) = (snapshot.Rip, snapshot.Rflags);
        var s = vcpu.GetSregs();
        (s.cr0, s.cr2, s.cr3, s.cr4, s.efer) = (snapshot.Cr0, snapshot.Cr2, snapshot.Cr3, snapshot.Cr4, snapshot.Efer);
        (s.idt.@base, s.idt.limit) = (snapshot.IdtBase, snapshot.IdtLimit);
        (s.gdt.@base, s.gdt.limit) = (snapshot.GdtBase, snapshot.GdtLimit);
        KvmRegisterConversion.SetSegments(ref s, snapshot.Segments);
        var page = (byte[])snapshot.Apic.Clone();
        var own = vcpu.GetLapic(); // this vCPU's APIC ID and version stay its own
        own.AsSpan(IdOffset, 4).CopyTo(page.AsSpan(IdOffset));
        own.AsSpan(VersionOffset, 4).CopyTo(page.AsSpan(VersionOffset));
        Write(page, IrrOffset, snapshot.Irr);
        Write(page, IsrOffset, snapshot.Isr);
        var current = snapshot.ApicTimerNanoseconds < 0 ? 0 : Math.Max(1, snapshot.ApicTimerNanoseconds / Divisor(page));
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(TimerCurrentOffset), (uint)Math.Min(uint.MaxValue, current));
        var events = vcpu.GetVcpuEvents();
        events = new kvm_vcpu_events { interrupt_shadow = snapshot.InterruptShadow ? (byte)1 : (byte)0, nmi_masked = events.nmi_masked, flags = ValidShadow };
        vcpu.SetSregs(s);
        vcpu.SetRegs(r);
        KvmMsrState.Restore(vcpu, snapshot.Msrs);
        vcpu.SetXsave(KvmRegisterConversion.WithFxsave(vcpu.GetXsave(), snapshot.Fpu));
        vcpu.SetLapic(page);
        vcpu.SetVcpuEvents(events);
        vcpu.SetMpState(snapshot.Halted ? KvmConstants.KVM_MP_STATE_HALTED : KvmConstants.KVM_MP_STATE_RUNNABLE);
    }

    /// <summary>
    /// Nanoseconds until the timer expires, from its current count; -1 when it is stopped. A periodic timer whose count
    /// reads 0 has expired and not yet been re-armed (its host timer ran late: KVM reports what is left modulo the period,
    /// and 0 when the expiry is past) — it is due now, not stopped, or the restored guest would never tick again.
    /// </summary>
    internal static long TimerLeft(byte[] page)
    {
        var current = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(TimerCurrentOffset));
        if (current != 0)
            return current * Divisor(page);
        var initial = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(TimerInitialOffset));
        var lvt = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(LvtTimerOffset));
        return initial != 0 && (lvt & LvtTimerModeMask) == LvtTimerPeriodic ? 0 : -1;
    }

    /// <summary>The timer's divide configuration: bits 0, 1 and 3 encode 2, 4, …, 128, or 1 (one count per nanosecond at KVM's 1 GHz bus).</summary>
    private static long Divisor(byte[] page)
    {
        var code = BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(TimerDivideOffset));
        var shift = (code & 3) | ((code >> 1) & 4);
        return shift == 7 ? 1 : 2L << (int)shift;
    }

    /// <summary>A 256-bit register (eight 32-bit registers 16 bytes apart) as four qwords.</summary>
    private static ulong[] Set(byte[] page, int offset)
    {
        var set = new ulong[4];
        for (var i = 0; i < 8; i++)
            set[i >> 1] |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(page.AsSpan(offset + (i * 16))) << (32 * (i & 1));
        return set;
    }

    private static void Write(byte[] page, int offset, ulong[] set)
    {
        for (var i = 0; i < 8; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(offset + (i * 16)), (uint)(set[i >> 1] >> (32 * (i & 1))));
    }

    private static void Clear(byte[] page, int offset)
    {
        for (var i = 0; i < 8; i++)
            page.AsSpan(offset + (i * 16), 4).Clear();
    }
}
