namespace Vdi.Vmm.Devices;

/// <summary>
/// The machine's interrupt controllers as guests see them: local APIC (xAPIC MMIO) register offsets and bits, and the
/// I/O APIC's index/data window and redirection table. The software engine's APICs implement them; guests program them.
/// </summary>
public static class ApicRegisters
{
    public const uint TaskPriorityRegister = 0x80;
    public const uint EndOfInterruptRegister = 0xB0;
    public const uint SpuriousVectorRegister = 0xF0;
    public const uint LvtLint0Register = 0x350;
    public const uint SoftwareEnable = 0x100;
    public const uint LvtMasked = 0x1_0000;
    public const uint LvtTimerRegister = 0x320;
    public const uint TimerInitialCountRegister = 0x380;
    public const uint TimerDivideRegister = 0x3E0;
    public const uint TimerPeriodic = 0x2_0000;
    public const uint TimerDivideBy1 = 0xB;
    public const uint RedirectionLevelTriggered = 1u << 15;

    public const uint IoRegisterSelect = 0x00;
    public const uint IoWindow = 0x10;
    public const uint IoRedirectionTable = 0x10;
}
