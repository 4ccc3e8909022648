using Vdi.Vmm.Kvm;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Vcpu;

/// <summary>
/// The MSRs of <see cref="ModelSpecificRegisters.Saved"/> through <c>KVM_GET_MSRS</c>/<c>KVM_SET_MSRS</c>. Only MSRs
/// this host's KVM lists in <c>KVM_GET_MSR_INDEX_LIST</c> are asked for. One of the set it does not list (TSC_AUX on a
/// host without RDTSCP or RDPID) does not exist for the guest here: the section says it is absent. A restore writes the
/// MSRs this host lists and the state holds; one the state holds that this host does not list is refused, naming it,
/// unless it holds its reset value (nothing of the guest's would be lost); one the state says absent keeps its reset value.
/// </summary>
internal static class KvmMsrState
{
    public static ulong?[] Save(KvmVcpu vcpu)
    {
        var saved = ModelSpecificRegisters.Saved;
        var listed = Listed(vcpu);
        var values = vcpu.GetMsrs([.. saved.Where((_, i) => listed[i]).Select(m => m.Index)]);
        var result = new ulong?[saved.Count];
        for (int i = 0, v = 0; i < saved.Count; i++)
            result[i] = listed[i] ? values[v++] : null;
        return result;
    }

    /// <summary>Refuses (nothing changed) an MSR value this host's KVM cannot take.</summary>
    public static void Check(KvmVcpu vcpu, ulong?[] values)
    {
        var listed = Listed(vcpu);
        var reset = ModelSpecificRegisters.ResetValues();
        for (var i = 0; i < values.Length; i++)
        {
            if (!listed[i] && values[i] is { } value && value != reset[i])
                throw new StateFormatException($"vcpu {vcpu.Id}: MSR {ModelSpecificRegisters.Name(ModelSpecificRegisters.Saved[i].Index)} = 0x{value:X}, but this host's KVM does not list it (KVM_GET_MSR_INDEX_LIST)");
        }
    }

    public static void Restore(KvmVcpu vcpu, ulong?[] values)
    {
        var listed = Listed(vcpu);
        var write = Enumerable.Range(0, values.Length).Where(i => listed[i] && values[i] is not null).ToArray();
        vcpu.SetMsrs([.. write.Select(i => ModelSpecificRegisters.Saved[i].Index)], [.. write.Select(i => values[i]!.Value)]);
    }

    private static bool[] Listed(KvmVcpu vcpu)
    {
        var list = vcpu.System.MsrIndexList;
        return [.. ModelSpecificRegisters.Saved.Select(m => list.Contains(m.Index))];
    }
}
