using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Devices.ApicRegisters;

namespace Vdi.Guest;

/// <summary>
/// Local APIC (xAPIC MMIO) and I/O APIC programming (registers: <see cref="ApicRegisters"/>). The windows lie above
/// 2 GiB, where a 32-bit absolute displacement would be sign-extended, so every access goes through a register holding
/// the base address.
/// </summary>
internal static class ApicEmitter
{
    /// <summary>
    /// Enables this vCPU's local APIC: masks LINT0, accepts every priority, and software-enables it with
    /// <paramref name="spuriousVector"/>. LINT0 matters on vCPU 0: KVM resets it to ExtINT, unmasked, so the
    /// uninitialised in-kernel 8259 (vector base 0) would otherwise deliver its IRQs as exception vectors.
    /// Preserves all registers.
    /// </summary>
    public static void EmitEnableLocalApic(Assembler a, byte spuriousVector)
    {
        a.push(rax);
        a.mov(eax, (uint)GuestLayout.LocalApicBase);
        a.mov(__dword_ptr[rax + (int)LvtLint0Register], LvtMasked);
        a.mov(__dword_ptr[rax + (int)TaskPriorityRegister], 0u);
        a.mov(__dword_ptr[rax + (int)SpuriousVectorRegister], SoftwareEnable | spuriousVector);
        a.pop(rax);
    }

    /// <summary>Signals end of interrupt to this vCPU's local APIC. Clobbers rax.</summary>
    public static void EmitEndOfInterrupt(Assembler a)
    {
        a.mov(eax, (uint)GuestLayout.LocalApicBase);
        a.mov(__dword_ptr[rax + (int)EndOfInterruptRegister], 0u);
    }

    /// <summary>
    /// Routes I/O APIC <paramref name="pin"/> to <paramref name="vector"/> on local APIC <paramref name="destinationApicId"/>:
    /// fixed delivery, physical destination, edge (or, with <paramref name="levelTriggered"/>, level) triggered, active high, unmasked. Writes the high dword (destination)
    /// first, so the entry is complete when the low dword unmasks it. Preserves all registers.
    /// </summary>
    public static void EmitRouteIoApicPin(Assembler a, int pin, byte vector, byte destinationApicId, bool levelTriggered = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pin);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pin, 23);
        var (low, high) = RedirectionEntry(vector, destinationApicId);
        if (levelTriggered)
            low |= RedirectionLevelTriggered;
        a.push(rax);
        a.mov(eax, (uint)GuestLayout.IoApicBase);
        a.mov(__dword_ptr[rax + (int)IoRegisterSelect], IoRedirectionTable + (2 * (uint)pin) + 1);
        a.mov(__dword_ptr[rax + (int)IoWindow], high);
        a.mov(__dword_ptr[rax + (int)IoRegisterSelect], IoRedirectionTable + (2 * (uint)pin));
        a.mov(__dword_ptr[rax + (int)IoWindow], low);
        a.pop(rax);
    }

    /// <summary>
    /// The two dwords of a redirection entry: vector in bits 0–7, delivery mode fixed (0), destination mode physical,
    /// polarity active high, trigger edge, mask clear — all zero bits — and the destination APIC ID in bits 56–63.
    /// </summary>
    public static (uint Low, uint High) RedirectionEntry(byte vector, byte destinationApicId) =>
        (vector, (uint)destinationApicId << 24);

    /// <summary>
    /// Starts this vCPU's local APIC timer: periodic, <paramref name="vector"/>, divide by 1, <paramref name="initialCount"/>
    /// bus cycles per period (KVM's APIC bus runs at 1 GHz, so 10^9 is one second). Clobbers rax.
    /// </summary>
    public static void EmitStartPeriodicTimer(Assembler a, byte vector, uint initialCount)
    {
        a.mov(eax, (uint)GuestLayout.LocalApicBase);
        a.mov(__dword_ptr[rax + (int)TimerDivideRegister], TimerDivideBy1);
        a.mov(__dword_ptr[rax + (int)LvtTimerRegister], TimerPeriodic | vector);
        a.mov(__dword_ptr[rax + (int)TimerInitialCountRegister], initialCount);
    }
}
