namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Thrown by an <see cref="ISoftBus"/> from ReadMemory/WriteMemory/PortIn/PortOut, before any side effect, when the
/// access must not happen in the software engine (e.g. the in-kernel local APIC during a hybrid slice). The CPU then
/// leaves RIP and the retired-instruction count as before that instruction, so the instruction runs again elsewhere.
/// </summary>
internal sealed class SoftwareSliceExit(string reason) : Exception(reason);
