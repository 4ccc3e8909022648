using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Tracing.TracingGuest;

namespace Vdi.Vmm.Tests.Tracing;

/// <summary>
/// A software vCPU's stores to a traced page take the slow path (to the decision); once the page is untraced they are
/// back on the TLB's fast path, and tracing it again takes them off — counted by <see cref="SoftCpu.SlowPathStores"/>.
/// </summary>
public sealed class StoreFastPathTests
{
    private const int Budget = 3 * 1000; // 1,000 iterations of the 3-instruction store loop

    [Fact]
    public void Untrace_puts_stores_back_on_the_fast_path_and_trace_takes_them_off()
    {
        var image = Build(a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(__qword_ptr[rbx], rcx);
            a.inc(rcx);
            a.jmp(loop);
        });
        using var memory = new GuestMemory();
        memory.AddRam(0, (ulong)MemoryMiB << 20);
        LongModeSetup.WriteTables(memory);
        memory.Write(image.LoadAddress, image.Bytes);
        var ioApic = new SoftIoApic((_, _) => { });
        var devices = MachineDevices.Create(new MachineConfig { Image = image, MemoryMiB = MemoryMiB }, memory, ioApic.Line, 0, _ => { });
        var tracer = new WriteTracer(memory, devices.Trace, splitSlots: false);
        var bus = new SoftMachineBus(memory, devices.Pio, devices.Mmio, devices.Hypercalls, ioApic, (ulong)MemoryMiB << 20, tracer);
        var cpu = new SoftCpu(bus, 0, 1, image.EntryPoint);

        tracer.Trace(Traced, 0x1000, _ => TraceDecision.Apply);
        var traced = SlowStores(cpu);
        tracer.Untrace(Traced, 0x1000);
        var untraced = SlowStores(cpu);
        tracer.Trace(Traced, 0x1000, _ => TraceDecision.Apply);
        var again = SlowStores(cpu);

        Assert.InRange(traced, 990, 1001);
        Assert.InRange(untraced, 0, 1); // at most the refill after the change
        Assert.InRange(again, 990, 1001);
        Assert.Equal(traced + again, tracer.Hits);
        Assert.Equal(cpu.Registers[(int)SoftCpu.Gpr.Rcx] - 1, memory.Read<ulong>(Traced));
    }

    private static long SlowStores(SoftCpu cpu)
    {
        var before = cpu.SlowPathStores;
        cpu.Run(Budget);
        return cpu.SlowPathStores - before;
    }
}
