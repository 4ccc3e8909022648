using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Machine;
using Vdi.Vmm.Tracing;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Tracing;

/// <summary>
/// Small guests for the tracing tests: rbx points at <see cref="Traced"/> (the page the tests trace), the body writes
/// around it, and the guest powers off with eax as its exit code (usually a value read back after the write).
/// </summary>
internal static class TracingGuest
{
    public const ulong Traced = 0x30_0000;
    public const ulong Below = Traced - 0x1000; // the untraced neighbour pages
    public const ulong Above = Traced + 0x1000;
    public const int MemoryMiB = 8;

    public static GuestImage Build(Action<Assembler> body) =>
        GuestAssembly.Build("tracing", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            a.mov(ebx, (uint)Traced);
            body(a);
            PowerPortEmitter.EmitPowerOffWithEax(a);
        });

    public static Vmm.Machine.Machine Machine(EngineChoice engine, Action<Assembler> body) =>
        KvmMachines.Build(Build(body), memoryMiB: MemoryMiB, engine: engine, exitStormSwitching: false);

    /// <summary>Traces <see cref="Traced"/> with a handler that records each write and answers <paramref name="decision"/>.</summary>
    public static List<TracedWrite> TraceWith(Vmm.Machine.Machine machine, TraceDecision decision)
    {
        var seen = new List<TracedWrite>();
        machine.Tracer.Trace(Traced, 0x1000, w =>
        {
            lock (seen)
                seen.Add(w);
            return decision;
        });
        return seen;
    }

    /// <summary>The guest address just past the image's first instruction that writes memory: the RIP engines report for its write.</summary>
    public static ulong AfterFirstStore(GuestImage image)
    {
        var offset = (int)(image.EntryPoint - image.LoadAddress);
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(image.Bytes, offset, image.Bytes.Length - offset), image.EntryPoint);
        var info = new InstructionInfoFactory();
        while (true)
        {
            var instruction = decoder.Decode();
            if (info.GetInfo(instruction).GetUsedMemory().Any(m => m.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite))
                return instruction.NextIP;
        }
    }

    public static async Task<MachineExit> RunAsync(Vmm.Machine.Machine machine) => await KvmMachines.RunToExitAsync(machine, 120);
}
