using Vdi.Vmm.State;
using static Vdi.Vmm.State.ModelSpecificRegisters;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The MSRs of the state format's set (<see cref="ModelSpecificRegisters.Saved"/>) on the software engine. The engine
/// has no <c>syscall</c>, <c>sysenter</c>, <c>swapgs</c>, <c>rdtscp</c> or caches, so STAR, LSTAR, CSTAR, SFMASK,
/// KERNEL_GS_BASE, SYSENTER_CS/ESP/EIP, PAT and TSC_AUX are inert: stored values that <c>rdmsr</c> and <c>wrmsr</c> read
/// and write with the architecture's checks (#GP for a non-canonical address, a PAT byte that is no memory type,
/// reserved bits). MISC_ENABLE is stored too, and a restore takes only its inert bits (<see cref="ModelSpecificRegisters.MiscEnableInert"/>); <c>wrmsr</c> of it stops the machine. TSC is carried for the state only: the
/// engine has no time-stamp counter, so <c>rdmsr</c>/<c>wrmsr</c> of it stop the machine rather than show a counter
/// that does not count. In hybrid slices KVM owns every MSR but EFER, so the stored ones are not reached there.
/// </summary>
internal sealed partial class SoftCpu
{
    private readonly ulong[] _msrs = ResetValues();

    /// <summary>The stored values, in <see cref="ModelSpecificRegisters.Saved"/>'s order (the engine has every one).</summary>
    private ulong?[] ExportMsrs() => [.. _msrs.Select(v => (ulong?)v)];

    /// <summary>Why the engine cannot take <paramref name="values"/>, or null when it can.</summary>
    private static string? RefusedMsrs(ulong?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            var index = Saved[i].Index;
            if (index == Tsc || values[i] is not { } value)
                continue; // TSC is carried, whatever it is; an MSR the saving vCPU did not have keeps its reset value
            if (index == MiscEnable ? (value & ~MiscEnableInert) != 0 : !IsWritable(index, value))
                return $"MSR {ModelSpecificRegisters.Name(index)} = 0x{value:X} is a value the software engine does not model";
        }
        return null;
    }

    private void ImportMsrs(ulong?[] values)
    {
        var reset = ResetValues();
        for (var i = 0; i < values.Length; i++)
            _msrs[i] = values[i] ?? reset[i];
    }

    /// <summary><c>rdmsr</c> of a stored MSR: true with its value, false when the engine does not model <paramref name="index"/>.</summary>
    private bool TryReadStoredMsr(uint index, out ulong value)
    {
        var at = StoredAt(index);
        value = at >= 0 ? _msrs[at] : 0;
        return at >= 0 && index != Tsc;
    }

    /// <summary><c>wrmsr</c> of a stored MSR: false when the engine does not model <paramref name="index"/>; #GP as the architecture raises it.</summary>
    private bool TryWriteStoredMsr(uint index, ulong value)
    {
        var at = StoredAt(index);
        if (at < 0 || index is Tsc or MiscEnable)
            return false;
        if (!IsWritable(index, value))
            throw new GuestFault(GuestFault.GeneralProtection, 0);
        _msrs[at] = value;
        return true;
    }

    private int StoredAt(uint index)
    {
        if (HybridMode)
            return -1;
        for (var i = 0; i < Saved.Count; i++)
        {
            if (Saved[i].Index == index)
                return i;
        }
        return -1;
    }

    private static bool IsWritable(uint index, ulong value) => index switch
    {
        Lstar or Cstar or KernelGsBase or SysenterEsp or SysenterEip => IsCanonical(value),
        Sfmask or TscAux or SysenterCs => value >> 32 == 0,
        Pat => IsValidPat(value),
        _ => true, // STAR
    };
}
