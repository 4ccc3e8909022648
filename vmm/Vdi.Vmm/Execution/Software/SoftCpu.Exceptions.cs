using Vdi.Vmm.Boot;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Exception delivery of <see cref="SoftCpu"/>: through the IDT's 64-bit interrupt and trap gates, with the error code
/// pushed for the vectors that have one, and the architecture's rules for a fault met while delivering (a second
/// exception, #DF, shutdown).
/// </summary>
internal sealed partial class SoftCpu
{
    /// <summary>Delivers exception <paramref name="vector"/> (with a zero error code where it has one), escalating to #GP, #DF and shutdown when gates are missing.</summary>
    public void RaiseException(byte vector) => RaiseFault(vector, HasErrorCode(vector) ? 0 : null, 0);

    /// <summary>Delivers a page fault for <paramref name="address"/> now (host introspection forwarding one); only while parked.</summary>
    public void InjectPageFault(ulong address, uint errorCode) => RaiseFault(GuestFault.PageFault, errorCode, address);

    private static bool HasErrorCode(byte vector) => vector is 8 or (>= 10 and <= 14) or 17 or 21;

    /// <summary>An instruction (or its fetch) faulted and was rolled back: delivers the fault to the guest.</summary>
    private void DeliverFault(GuestFault fault)
    {
        _leaveBlock = false;
        RaiseFault(fault.Vector, HasErrorCode(fault.Vector) ? fault.ErrorCode : null, fault.Address);
        _leaveBlock = false;
    }

    private enum ExceptionClass { Benign, Contributory, PageFault }

    private static ExceptionClass ClassOf(byte vector) => vector switch
    {
        GuestFault.PageFault => ExceptionClass.PageFault,
        0 or (>= 10 and <= 13) => ExceptionClass.Contributory,
        _ => ExceptionClass.Benign,
    };

    /// <summary>
    /// Delivers exception <paramref name="vector"/> (a page fault sets CR2 to <paramref name="address"/> first). A
    /// second exception while delivering it — a missing gate (#GP), a page fault reading the IDT or pushing the frame —
    /// is delivered instead, or becomes #DF by the architecture's rules (contributory after contributory, #PF or
    /// contributory after #PF); one while delivering #DF shuts the vCPU down (triple fault). A page fault that becomes
    /// #DF leaves CR2 as it was (the architecture leaves state after #DF undefined; this is what KVM does).
    /// </summary>
    private void RaiseFault(byte vector, ulong? errorCode, ulong address)
    {
        if (HybridMode)
            throw new SoftwareSliceExit($"exception {vector}"); // KVM runs the instruction again and delivers it
        if (vector == GuestFault.PageFault)
            Cr2 = address;
        GuestFault second;
        try
        {
            if (GateIsUsable(vector))
            {
                Deliver(vector, errorCode);
                return;
            }
            second = new GuestFault(GuestFault.GeneralProtection, 0);
        }
        catch (GuestFault fault)
        {
            second = fault;
        }

        if (vector == 8)
        {
            _bus.TripleFault(this);
            _leaveBlock = true;
            _stopRun = true;
            return;
        }
        var first = ClassOf(vector);
        var then = ClassOf(second.Vector);
        if ((first == ExceptionClass.PageFault && then != ExceptionClass.Benign)
            || (first == ExceptionClass.Contributory && then == ExceptionClass.Contributory))
            RaiseFault(8, 0, 0);
        else
            RaiseFault(second.Vector, second.ErrorCode, second.Address);
    }

    private bool GateIsUsable(byte vector)
    {
        if ((ulong)vector * 16 + 15 > IdtLimit)
            return false;
        var low = ReadMem(IdtBase + ((ulong)vector * 16), 8); // from its start: a fault reading the gate names it in CR2
        var attributes = (low >> 40) & 0xFF;
        var selector = (low >> 16) & 0xFFFF;
        return (attributes & 0x80) != 0 && (attributes & 0x0F) is 0xE or 0xF && selector == GuestLayout.CodeSelector;
    }

    /// <summary>Pushes the interrupt frame and enters the handler; registers change only once every access happened.</summary>
    private void Deliver(byte vector, ulong? errorCode)
    {
        var gate = IdtBase + ((ulong)vector * 16);
        var handler = ReadMem(gate, 2) | (ReadMem(gate + 6, 2) << 16) | (ReadMem(gate + 8, 4) << 32);
        var interruptGate = (ReadMem(gate + 5, 1) & 0x0F) == 0xE;

        var oldRsp = _regs[(int)Gpr.Rsp];
        var rsp = oldRsp & ~0xFUL;
        WriteMem(rsp -= 8, 8, GuestLayout.DataSelector);
        WriteMem(rsp -= 8, 8, oldRsp);
        WriteMem(rsp -= 8, 8, Rflags);
        WriteMem(rsp -= 8, 8, GuestLayout.CodeSelector);
        WriteMem(rsp -= 8, 8, Rip);
        if (errorCode is { } code)
            WriteMem(rsp -= 8, 8, code);
        _regs[(int)Gpr.Rsp] = rsp;
        if (interruptGate)
            InterruptsEnabled = false;
        Rip = handler;
        Halted = false; // a delivered event resumes a halted vCPU
        _leaveBlock = true;
    }
}
