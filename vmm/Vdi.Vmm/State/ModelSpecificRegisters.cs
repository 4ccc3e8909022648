namespace Vdi.Vmm.State;

/// <summary>
/// The fixed set of MSRs a vCPU's section carries (<c>msrs</c>: index/value pairs in this order; <c>msrs_absent</c>: those the saving vCPU does not have).
/// EFER has its own field; FS and GS base are the segments' bases. The set is what a 64-bit guest kernel programs:
/// the syscall and sysenter entry points, the swapgs base, PAT, the time-stamp counter and its TSC_AUX, and
/// MISC_ENABLE. <c>TSC</c> is the guest's time-stamp counter when saved; a restore sets it, so the guest's TSC goes on
/// from there (the time the state spent saved does not pass for it, as for the kvmclock).
/// </summary>
public static class ModelSpecificRegisters
{
    public const uint Tsc = 0x10;
    public const uint SysenterCs = 0x174;
    public const uint SysenterEsp = 0x175;
    public const uint SysenterEip = 0x176;
    public const uint Pat = 0x277;
    public const uint MiscEnable = 0x1A0;
    public const uint Star = 0xC000_0081;
    public const uint Lstar = 0xC000_0082;
    public const uint Cstar = 0xC000_0083;
    public const uint Sfmask = 0xC000_0084;
    public const uint KernelGsBase = 0xC000_0102;
    public const uint TscAux = 0xC000_0103;

    /// <summary>PAT at reset: WB, WT, UC-, UC, repeated.</summary>
    public const ulong PatReset = 0x0007_0406_0007_0406;

    /// <summary>MISC_ENABLE as a vCPU of this VMM starts with it: fast-string operations enabled (bit 0), as KVM reports it.</summary>
    public const ulong MiscEnableReset = 0x1;

    /// <summary>
    /// MISC_ENABLE bits that change nothing an engine executes: fast strings (0), performance monitoring available (7),
    /// branch trace and PEBS unavailable (11, 12), Enhanced SpeedStep (16). Not among them: MONITOR/MWAIT (18), the
    /// CPUID limit (22), XD disable (34).
    /// </summary>
    public const ulong MiscEnableInert = (1UL << 0) | (1UL << 7) | (1UL << 11) | (1UL << 12) | (1UL << 16);

    /// <summary>Every MSR of the set, in section order, with its name.</summary>
    public static IReadOnlyList<(uint Index, string Name)> Saved { get; } =
    [
        (Star, "STAR"), (Lstar, "LSTAR"), (Cstar, "CSTAR"), (Sfmask, "SFMASK"), (KernelGsBase, "KERNEL_GS_BASE"),
        (SysenterCs, "SYSENTER_CS"), (SysenterEsp, "SYSENTER_ESP"), (SysenterEip, "SYSENTER_EIP"), (Pat, "PAT"),
        (Tsc, "TSC"), (TscAux, "TSC_AUX"), (MiscEnable, "MISC_ENABLE"),
    ];

    public static string Name(uint index) =>
        Saved.FirstOrDefault(m => m.Index == index).Name is { } name ? $"0x{index:X} ({name})" : $"0x{index:X}";

    /// <summary>The values a vCPU starts with (all zero but PAT and MISC_ENABLE), in <see cref="Saved"/>'s order.</summary>
    public static ulong[] ResetValues() => [.. Saved.Select(m => m.Index switch { Pat => PatReset, MiscEnable => MiscEnableReset, _ => 0UL })];

    /// <summary>Whether <paramref name="value"/> is a canonical 48-bit address (bits 63–47 all equal).</summary>
    public static bool IsCanonical(ulong value) => (ulong)((long)(value << 16) >> 16) == value;

    /// <summary>Whether every byte of a PAT value is a memory type (UC, WC, WT, WP, WB, UC-).</summary>
    public static bool IsValidPat(ulong value)
    {
        for (var i = 0; i < 8; i++)
        {
            if (((value >> (i * 8)) & 0xFF) is not (0 or 1 or 4 or 5 or 6 or 7))
                return false;
        }
        return true;
    }
}
