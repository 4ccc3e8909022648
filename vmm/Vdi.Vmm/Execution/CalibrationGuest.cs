using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Execution;

/// <summary>
/// The engine calibration guest, a measurement loop of the VMM's own (not a guest OS; <see cref="EngineCalibration"/>
/// runs it on each engine): asks the host (<see cref="PortMap.Calibration"/>) which loop to run and how many
/// times, runs it, and asks again, until the host answers 0 and it powers off. The host times each block from one
/// question to the next, so guest work is measured without machine creation or tear-down. The loops:
/// <list type="bullet">
/// <item><see cref="Workload.Alu"/>: <c>L: add rax, rbx; xor rdx, rax; dec ecx; jnz L</c> — 4 instructions an iteration.</item>
/// <item><see cref="Workload.Memory"/>: <c>L: mov [rdi], rax; add edi, 8; and edi, mask; dec ecx; jnz L</c> — 5 instructions,
/// 8-byte stores sweeping a 64 KiB buffer at <see cref="BufferAddress"/>.</item>
/// <item><see cref="Workload.Exits"/>: <c>L: out dx, al; dec ecx; jnz L</c> to <see cref="PortMap.NullDevice"/> — one VM exit
/// (one device access on the software engine) an iteration.</item>
/// </list>
/// </summary>
public static class CalibrationGuest
{
    /// <summary>The memory loop's buffer: 64 KiB at 4 MiB, so <c>and edi, 0x40FFF8</c> wraps it in place.</summary>
    public const ulong BufferAddress = 0x40_0000;

    /// <summary>The smallest RAM the guest needs (its buffer lies below it).</summary>
    public const int MemoryMiB = 8;

    private const uint BufferMask = 0x40_FFF8;

    /// <summary>What the host asks the guest to run next.</summary>
    public enum Workload : uint
    {
        Done = 0,
        Alu = 1,
        Memory = 2,
        Exits = 3,
    }

    /// <summary>Guest instructions one iteration of <paramref name="loop"/> retires.</summary>
    public static int InstructionsPerIteration(Workload loop) => loop switch
    {
        Workload.Alu => 4,
        Workload.Memory => 5,
        Workload.Exits => 3,
        _ => 0,
    };

    public static GuestImage Build() =>
        GuestAssembly.Build("engine-calibration", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var next = a.CreateLabel("next");
            var aluLoop = a.CreateLabel("alu_loop");
            var memory = a.CreateLabel("memory");
            var memoryLoop = a.CreateLabel("memory_loop");
            var exits = a.CreateLabel("exits");
            var exitLoop = a.CreateLabel("exit_loop");

            a.mov(ebx, 0x9E37_79B9u);
            a.Label(ref next);
            a.mov(dx, PortMap.Calibration);
            a.@in(eax, dx);
            a.mov(esi, eax);
            a.mov(dx, PortMap.Calibration + 4);
            a.@in(eax, dx);
            a.mov(ecx, eax);
            a.cmp(esi, (uint)Workload.Alu);
            a.je(aluLoop);
            a.cmp(esi, (uint)Workload.Memory);
            a.je(memory);
            a.cmp(esi, (uint)Workload.Exits);
            a.je(exits);
            PowerPortEmitter.EmitPowerOff(a, 0);

            a.Label(ref aluLoop);
            a.add(rax, rbx);
            a.xor(rdx, rax);
            a.dec(ecx);
            a.jnz(aluLoop);
            a.jmp(next);

            a.Label(ref memory);
            a.mov(edi, (uint)BufferAddress);
            a.Label(ref memoryLoop);
            a.mov(__qword_ptr[rdi], rax);
            a.add(edi, 8);
            a.and(edi, BufferMask);
            a.dec(ecx);
            a.jnz(memoryLoop);
            a.jmp(next);

            a.Label(ref exits);
            a.mov(dx, PortMap.NullDevice);
            a.Label(ref exitLoop);
            a.@out(dx, al);
            a.dec(ecx);
            a.jnz(exitLoop);
            a.jmp(next);
        });
}
