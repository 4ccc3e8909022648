using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Vcpu;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// Runs one small slice on a private scratch machine, once per process, when the first switching machine is built:
/// the slice path (decoder, interpreter, buses) is JIT-compiled there instead of in a vCPU's first real slice, where
/// compilation would hold the guest's interrupts for milliseconds.
/// </summary>
internal static class SliceWarmUp
{
    private const ulong Code = 0x1_0000;
    private static int s_done;

    public static void EnsureDone()
    {
        if (Interlocked.Exchange(ref s_done, 1) != 0)
            return;
        using var memory = new GuestMemory();
        memory.AddRam(0, 0x20000);
        LongModeSetup.WriteTables(memory); // the slice translates through the VMM's identity tables, as a guest's would
        var log = new AccessLog();
        var pio = new Bus(AccessSpace.Pio, log);
        pio.Register(PortMap.NullDevice, 1, new NullDevice());
        var bus = new HybridSoftBus(new SoftMachineBus(memory, pio, new Bus(AccessSpace.Mmio, log), new HypercallDispatcher(log), new SoftIoApic((_, _) => { }), 0x20000));

        // L: in al, dx; add ebx, eax; imul ebx, ebx, 3; shr ebx, 1; dec ecx; jnz L
        var a = new Assembler(64);
        var loop = a.CreateLabel();
        a.Label(ref loop);
        a.@in(al, dx);
        a.add(ebx, eax);
        a.imul(ebx, ebx, 3);
        a.shr(ebx, 1);
        a.dec(ecx);
        a.jnz(loop);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        memory.Write(Code, stream.ToArray());

        var registers = default(VcpuRegisters) with { Rip = Code, Rflags = 2, Rcx = 200, Rdx = PortMap.NullDevice, Rsp = 0x1_8000 };
        var region = HotRegionScanner.Scan(memory, Code, registers, ExitStormThresholds.Default, relaxed: false)
            ?? throw new InvalidOperationException("the warm-up loop is no hot region");
        var cpu = new SoftCpu(bus, 0, 1, Code) { HybridMode = true };
        cpu.ImportState(registers, 0, 0, SoftControlRegisters.Boot);
        _ = SoftwareSlice.Run(cpu, bus, region, ExitStormThresholds.Default, static () => false);
        _ = cpu.ExportState();
    }
}
