using Iced.Intel;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Guest;

/// <summary>
/// The built-in guest's entry and boot sequence, run by every vCPU at once:
/// set up the vCPU; vCPU 0 announces itself; each vCPU prints <c>cpu i online</c> in index order (a shared
/// <c>turn</c> passed from vCPU i to i+1); each adds 1 to a shared counter <c>counterIterations</c> times with
/// <c>lock xadd</c> and then counts itself in <c>done</c>. vCPU 0 waits for everyone, prints the total, routes the
/// host-request IRQ to itself and jumps to its idle loop (which polls the request port once on the way in, for a
/// request posted before the route existed); the others go straight to theirs.
/// </summary>
/// <remarks>
/// Registers held for the whole program: r12 = vCPU index (from rdi at entry), r13 = vCPU count (from rsi).
/// The shared variables each sit on their own 64-byte cache line so the spinning readers of <c>turn</c> don't
/// contend with the <c>lock xadd</c> traffic on <c>counter</c>.
/// </remarks>
internal sealed class BootSequenceEmitter
{
    private const int CacheLine = 64;

    private readonly GuestRuntime _runtime;

    public BootSequenceEmitter(GuestRuntime runtime)
    {
        _runtime = runtime;
        var g = runtime.Assembly;
        Counter = g.Data("counter", CacheLine, CacheLine);
        Done = g.Data("done", CacheLine, CacheLine);
        Turn = g.Data("turn", CacheLine, CacheLine);
    }

    /// <summary>qword: total of all vCPUs' increments.</summary>
    public Label Counter { get; }

    /// <summary>qword: number of vCPUs that finished counting.</summary>
    public Label Done { get; }

    /// <summary>qword: index of the vCPU whose turn it is to print its online line; the vCPU count once all have.</summary>
    public Label Turn { get; }

    public void Emit(int counterIterations, Label bootstrapIdle, Label applicationProcessorIdle)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(counterIterations);
        var a = _runtime.Assembly.Asm;
        var serial = _runtime.Serial;
        var announceOnline = a.CreateLabel("announce_online");

        a.mov(r12, rdi);
        a.mov(r13, rsi);
        _runtime.EmitCpuSetup();

        a.test(r12, r12);
        a.jnz(announceOnline);
        PowerPortEmitter.EmitBootMarker(a, BootMarkers.Entered);
        serial.EmitPrint("Vdi built-in guest: ");
        a.mov(rax, r13);
        a.call(serial.PutDecimal);
        serial.EmitPrint(" vCPUs\n");

        a.Label(ref announceOnline);
        EmitWaitUntilEquals(Turn, r12, "wait_turn");
        serial.EmitPrint("cpu ");
        a.mov(rax, r12);
        a.call(serial.PutDecimal);
        serial.EmitPrint(" online\n");
        a.lea(rax, __[r12 + 1]);
        a.mov(__qword_ptr[Turn], rax); // plain store: x86 keeps it after the prints above

        // vCPU 0 timestamps "all online" before counting so the marker isn't delayed by its own loop.
        var count = a.CreateLabel("count");
        a.test(r12, r12);
        a.jnz(count);
        EmitWaitUntilEquals(Turn, r13, "wait_all_online");
        PowerPortEmitter.EmitBootMarker(a, BootMarkers.AllVcpusOnline);

        a.Label(ref count);
        EmitCount(counterIterations);
        a.test(r12, r12);
        a.jnz(applicationProcessorIdle);

        EmitWaitUntilEquals(Done, r13, "wait_done");
        serial.EmitPrint("counter ");
        a.mov(rax, __qword_ptr[Counter]);
        a.call(serial.PutDecimal);
        serial.EmitPrintChar('\n');
        PowerPortEmitter.EmitBootMarker(a, BootMarkers.CounterDone);
        ApicEmitter.EmitRouteIoApicPin(a, PortMap.HostRequestIrq, InterruptEmitter.HostRequestVector, destinationApicId: 0);
        // A request the host posted before the pin was routed raised no interrupt: have the idle loop poll once.
        a.mov(__byte_ptr[_runtime.Interrupts.HostRequestPending], 1);
        PowerPortEmitter.EmitBootMarker(a, BootMarkers.Idle);
        a.jmp(bootstrapIdle);
    }

    /// <summary>Adds 1 to <see cref="Counter"/> <paramref name="iterations"/> times, then 1 to <see cref="Done"/>. Clobbers eax, ecx.</summary>
    private void EmitCount(int iterations)
    {
        var a = _runtime.Assembly.Asm;
        var loop = a.CreateLabel("count_loop");
        var finished = a.CreateLabel("count_finished");
        a.mov(ecx, iterations);
        a.test(ecx, ecx);
        a.jz(finished);
        a.Label(ref loop);
        a.mov(eax, 1);
        a.@lock.xadd(__qword_ptr[Counter], rax);
        a.dec(ecx);
        a.jnz(loop);
        a.Label(ref finished);
        a.mov(eax, 1);
        a.@lock.xadd(__qword_ptr[Done], rax);
    }

    /// <summary>Spins (with <c>pause</c>) until the qword at <paramref name="variable"/> equals <paramref name="value"/>. Clobbers rax.</summary>
    private void EmitWaitUntilEquals(Label variable, AssemblerRegister64 value, string name)
    {
        var a = _runtime.Assembly.Asm;
        var check = a.CreateLabel(name);
        var spin = a.CreateLabel(name + "_spin");
        a.jmp(check);
        a.Label(ref spin);
        a.pause();
        a.Label(ref check);
        a.mov(rax, __qword_ptr[variable]);
        a.cmp(rax, value);
        a.jne(spin);
    }
}
