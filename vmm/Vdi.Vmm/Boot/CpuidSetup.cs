using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Boot;

/// <summary>Per-vCPU CPUID: the host's supported set, with each vCPU's APIC ID written where the guest looks for it.</summary>
internal static class CpuidSetup
{
    public static kvm_cpuid_entry2[] ForVcpu(ReadOnlySpan<kvm_cpuid_entry2> supported, int apicId)
    {
        var entries = supported.ToArray();
        for (var i = 0; i < entries.Length; i++)
        {
            ref var e = ref entries[i];
            switch (e.function)
            {
                case 0x1:
                    e.ebx = (e.ebx & 0x00FF_FFFF) | ((uint)apicId << 24);
                    break;
                case 0xB or 0x1F:
                    e.edx = (uint)apicId;
                    break;
            }
        }
        return entries;
    }
}
