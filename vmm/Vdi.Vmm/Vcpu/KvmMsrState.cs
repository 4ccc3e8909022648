using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Vcpu;

/// <summary>
/// The MSRs of <see cref="ModelSpecificRegisters.Saved"/> through <c>KVM_GET_MSRS</c>/<c>KVM_SET_MSRS</c>. Only MSRs
/// this host's KVM lists in <c>KVM_GET_MSR_INDEX_LIST</c> are asked for; one of the set it does not list is said — the
/// save or the restore is refused, naming it — never dropped.
/// </summary>
internal static class KvmMsrState
{
    private static readonly uint[] s_indices = [.. ModelSpecificRegisters.Saved.Select(m => m.Index)];

    public static ulong[] Save(KvmVcpu vcpu)
    {
        if (Unlisted(vcpu) is { } missing)
            throw new InvalidOperationException($"vcpu {vcpu.Id}: this host's KVM does not list MSR {ModelSpecificRegisters.Name(missing)} (KVM_GET_MSR_INDEX_LIST), so its state cannot be saved whole");
        return vcpu.GetMsrs(s_indices);
    }

    /// <summary>Refuses (nothing changed) when this host's KVM cannot take every MSR of the set.</summary>
    public static void Check(KvmVcpu vcpu)
    {
        if (Unlisted(vcpu) is { } missing)
            throw new StateFormatException($"vcpu {vcpu.Id}: this host's KVM does not list MSR {ModelSpecificRegisters.Name(missing)} (KVM_GET_MSR_INDEX_LIST) and cannot restore it");
    }

    public static void Restore(KvmVcpu vcpu, ulong[] values) => vcpu.SetMsrs(s_indices, values);

    private static uint? Unlisted(KvmVcpu vcpu)
    {
        var listed = vcpu.System.MsrIndexList;
        foreach (var index in s_indices)
        {
            if (!listed.Contains(index))
                return index;
        }
        return null;
    }
}
