using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Software;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// The software engine's view of a KVM machine during a hybrid slice: the machine's own <see cref="SoftMachineBus"/>
/// (the same <see cref="Memory.GuestMemory"/> KVM maps, the same device buses) minus what only KVM serves. The local
/// APIC and I/O APIC windows belong to KVM's in-kernel irqchip, and hypercalls are left to KVM so their handlers always
/// see RIP at the <c>out</c> (as under KVM) whichever engine ran the code before: those accesses throw
/// <see cref="SoftwareSliceExit"/> before any side effect, and the slice ends before that instruction.
/// </summary>
internal sealed class HybridSoftBus(SoftMachineBus inner) : ISoftBus
{
    private const ulong ApicWindowSize = 0x1000;

    public Lock AtomicGate => inner.AtomicGate;

    public long CodeVersion => inner.CodeVersion;

    /// <summary>RAM straight through host pointers, as in a software machine: the APIC windows are not RAM, so they still come here.</summary>
    public SoftRam? Ram => inner.Ram;

    /// <summary>
    /// The machine's guard: locked instructions in a slice are single host atomics on the memory KVM's vCPUs use;
    /// those no atomic fits stall every other vCPU, in KVM_RUN or not.
    /// </summary>
    public ConcurrencyGuard? Guard => inner.Guard;

    public int Fetch(ulong rip, Span<byte> window) => inner.Fetch(rip, window);

    public void NoteCodePage(ulong rip) => inner.NoteCodePage(rip);

    public ulong ReadMemory(SoftCpu cpu, ulong address, int size)
    {
        RefuseKvmOnly(address);
        return inner.ReadMemory(cpu, address, size);
    }

    public void WriteMemory(SoftCpu cpu, ulong address, int size, ulong value)
    {
        RefuseKvmOnly(address);
        inner.WriteMemory(cpu, address, size, value);
    }

    public ulong PortIn(SoftCpu cpu, ushort port, int size) => inner.PortIn(cpu, port, size);

    public void PortOut(SoftCpu cpu, ushort port, int size, ulong value)
    {
        if (port == PortMap.Hypercall)
            throw new SoftwareSliceExit("hypercall");
        inner.PortOut(cpu, port, size, value);
    }

    /// <summary>Unreachable in hybrid mode, where exceptions end the slice before they are delivered; a crash if it ever happens.</summary>
    public void TripleFault(SoftCpu cpu) => throw new SoftwareEngineException($"triple fault in a software slice at 0x{cpu.Rip:X}");

    public bool TryFill(ulong address, int elementSize, ulong value, ulong count) => inner.TryFill(address, elementSize, value, count);

    public bool TryCopy(ulong destination, ulong source, ulong bytes) => inner.TryCopy(destination, source, bytes);

    private static void RefuseKvmOnly(ulong address)
    {
        if (address - GuestLayout.LocalApicBase < ApicWindowSize)
            throw new SoftwareSliceExit("local APIC");
        if (address - GuestLayout.IoApicBase < ApicWindowSize)
            throw new SoftwareSliceExit("I/O APIC");
    }
}
