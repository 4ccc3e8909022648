using Vdi.Vmm.State;

namespace Vdi.Vmm.Execution.Software;

/// <summary>The software vCPU's whole state as a <see cref="VcpuSnapshot"/>, out and back in (snapshots, migration).</summary>
internal sealed partial class SoftCpu
{
    /// <summary>
    /// The x87 control word and MXCSR, carried: the engine runs no x87 or SSE instruction, so they govern nothing here,
    /// and a state from KVM takes them back as they were (KVM may report an MXCSR of 0 for a vCPU that never used SSE).
    /// </summary>
    private (ushort Fcw, uint Mxcsr) _fpuControl = (FxsaveArea.ResetFcw, FxsaveArea.ResetMxcsr);

    /// <summary>Only while the vCPU is parked or not started.</summary>
    public VcpuSnapshot TakeSnapshot(long now)
    {
        var (irr, isr) = _interrupts.Export();
        return new VcpuSnapshot
        {
            Gprs = (ulong[])_regs.Clone(),
            Rip = Rip,
            Rflags = Rflags | _carriedFlags,
            Cr0 = Cr0,
            Cr2 = Cr2,
            Cr3 = Cr3,
            Cr4 = Cr4,
            Efer = Efer,
            IdtBase = IdtBase,
            IdtLimit = IdtLimit,
            Segments = (SegmentRegister[])_segments.Clone(),
            GdtBase = GdtBase,
            GdtLimit = GdtLimit,
            Msrs = ExportMsrs(),
            Fpu = FxsaveArea.WithControls(_fpuControl.Fcw, _fpuControl.Mxcsr), // no x87/SSE data: only the carried control words
            Halted = Halted,
            InterruptShadow = _interruptShadow,
            InstructionsRetired = InstructionsRetired,
            Apic = LocalApic.ExportPage(),
            ApicTimerNanoseconds = LocalApic.NanosecondsLeft(now),
            Irr = irr,
            Isr = isr,
        };
    }

    /// <summary>Refuses (a <see cref="StateFormatException"/> saying why) a snapshot the engine cannot run; changes nothing.</summary>
    public void CheckSnapshot(VcpuSnapshot s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var control = new SoftControlRegisters(s.Cr0, s.Cr2, s.Cr3, s.Cr4, s.Efer);
        if (!Models(control))
            throw new StateFormatException($"vcpu {Index}: control registers {control} are outside what the software engine runs");
        if ((s.Rflags & ~(ModelledFlags | CarriedFlags)) != 0)
            throw new StateFormatException($"vcpu {Index}: RFLAGS 0x{s.Rflags:X} has bits the software engine does not hold");
        if (RefusedSegments(s.Segments) is { } segments)
            throw new StateFormatException($"vcpu {Index}: {segments}");
        if (RefusedMsrs(s.Msrs) is { } msr)
            throw new StateFormatException($"vcpu {Index}: {msr}");
        if (FxsaveArea.HoldsData(s.Fpu))
            throw new StateFormatException($"vcpu {Index}: the x87/SSE state holds data ({FxsaveArea.Difference(s.Fpu)}); the software engine has no x87/SSE to run it");
    }

    /// <summary>
    /// Takes <paramref name="s"/>; only while parked or not started. Refused (nothing changed) when the engine cannot run
    /// it: control registers outside what it models, RFLAGS bits it does not hold, segments that are not flat or have a
    /// base, an MSR value it does not model, x87/SSE state holding data (the engine has no x87/SSE; it carries the control words).
    /// </summary>
    public void RestoreSnapshot(VcpuSnapshot s, long now)
    {
        CheckSnapshot(s);
        var control = new SoftControlRegisters(s.Cr0, s.Cr2, s.Cr3, s.Cr4, s.Efer);
        SetControlRegisters(control);
        s.Gprs.CopyTo(_regs, 0);
        Rip = s.Rip;
        Rflags = s.Rflags;
        _carriedFlags = s.Rflags & CarriedFlags;
        IdtBase = s.IdtBase;
        IdtLimit = s.IdtLimit;
        ImportDescriptors(s);
        ImportMsrs(s.Msrs);
        _fpuControl = FxsaveArea.Controls(s.Fpu);
        Halted = s.Halted;
        _interruptShadow = s.InterruptShadow;
        InstructionsRetired = s.InstructionsRetired;
        LocalApic.ImportPage(s.Apic, s.ApicTimerNanoseconds, now);
        _interrupts.Import(s.Irr, s.Isr);
        InvalidateDecodedCode();
    }
}
