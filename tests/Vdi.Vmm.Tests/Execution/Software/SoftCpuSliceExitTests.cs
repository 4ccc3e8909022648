using Iced.Intel;
using Vdi.Vmm.Execution.Software;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// The restart guarantee: when the bus throws <see cref="SoftwareSliceExit"/> from an access, the instruction did not
/// happen — RIP, registers, flags and the retired count are exactly as before it — and it runs whole when retried.
/// </summary>
public class SoftCpuSliceExitTests
{
    private const ulong Mmio = 0xD000_0000; // no RAM there
    private const ulong Stack = 0x8_0000;

    public static TheoryData<string> Cases => [.. Programs.Keys];

    private static readonly Dictionary<string, (Action<Assembler> Code, bool WritesOnly, ulong ExitAt)> Programs = new()
    {
        ["push to an exiting stack"] = (a => { a.mov(rsp, Mmio + 8); a.push(rax); }, false, Mmio),
        ["call with an exiting stack"] = (a => { var f = a.CreateLabel(); a.mov(rsp, Mmio + 8); a.call(f); a.Label(ref f); a.nop(); }, false, Mmio),
        ["ret from an exiting stack"] = (a => { a.mov(rsp, Mmio); a.ret(); }, false, Mmio),
        ["pop to exiting memory"] = (a => { a.mov(rsp, Stack); a.mov(rbx, Mmio); a.pop(__qword_ptr[rbx]); }, true, Mmio),
        ["add to memory whose write exits"] = (a => { a.mov(rbx, Mmio); a.add(__dword_ptr[rbx], eax); }, true, Mmio),
        ["add to memory whose read exits"] = (a => { a.mov(rbx, Mmio); a.add(__qword_ptr[rbx], rax); }, false, Mmio),
        ["shift of memory whose write exits"] = (a => { a.mov(rbx, Mmio); a.shl(__dword_ptr[rbx], 3); }, true, Mmio),
        ["locked xadd on exiting memory"] = (a => { a.mov(rbx, Mmio); a.@lock.xadd(__qword_ptr[rbx], rcx); }, true, Mmio),
        ["cmpxchg on exiting memory"] = (a => { a.mov(rbx, Mmio); a.@lock.cmpxchg(__dword_ptr[rbx], ecx); }, true, Mmio),
        ["xchg with exiting memory"] = (a => { a.mov(rbx, Mmio); a.xchg(__qword_ptr[rbx], rcx); }, true, Mmio),
        ["iretq from a frame whose rsp slot exits"] = (a => { a.mov(rsp, Mmio - 24); a.iretq(); }, false, Mmio),
        ["store in the middle of a block"] = (a => { a.mov(rbx, Mmio); a.add(ecx, 5); a.mov(__qword_ptr[rbx], rcx); a.add(ecx, 7); }, false, Mmio),
        ["rep stosq into exiting memory"] = (a => { a.mov(rdi, Mmio - 16); a.mov(ecx, 4); a.rep.stosq(); }, false, Mmio),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Step_leaves_the_vcpu_as_before_the_instruction(string name)
    {
        var (code, writesOnly, exitAt) = Programs[name];
        using var bus = new RamBus();
        var cpu = bus.Load(a => Prologue(a, code));
        bus.ExitAddress = exitAt;
        bus.ExitOnWritesOnly = writesOnly;
        bus.MmioValue = 0x1234;
        var before = Snapshot(cpu);
        for (var n = 0; n < 64; n++)
        {
            before = Snapshot(cpu);
            try
            {
                cpu.Step();
            }
            catch (SoftwareSliceExit)
            {
                Assert.Equal(before, Snapshot(cpu));
                RetryRunsWhole(bus, cpu, before);
                return;
            }
        }
        Assert.Fail("no slice exit");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Run_leaves_the_vcpu_as_before_the_instruction(string name)
    {
        var (code, writesOnly, exitAt) = Programs[name];
        using var bus = new RamBus();
        var cpu = bus.Load(a => Prologue(a, code));
        bus.ExitAddress = exitAt;
        bus.ExitOnWritesOnly = writesOnly;
        var reference = new RamBus();
        var stepper = reference.Load(a => Prologue(a, code));
        reference.ExitAddress = exitAt;
        reference.ExitOnWritesOnly = writesOnly;
        // The reference steps to just before the exiting instruction: that is where Run must leave the vCPU.
        State expected;
        while (true)
        {
            expected = Snapshot(stepper);
            try
            {
                stepper.Step();
            }
            catch (SoftwareSliceExit)
            {
                break;
            }
        }
        reference.Dispose();

        Assert.Throws<SoftwareSliceExit>(() => cpu.Run(1000));
        Assert.Equal(expected, Snapshot(cpu));
    }

    /// <summary>Gives every register and flag a value of its own, so anything the failed instruction touched shows.</summary>
    private static void Prologue(Assembler a, Action<Assembler> code)
    {
        a.mov(rax, 0x1111_2222_3333_4444UL);
        a.mov(rcx, 0x0102_0304_0506_0708UL);
        a.mov(rdx, 0x8000_0000UL);
        a.cmp(edx, 1); // OF = 1, SF = 0, CF = 0
        code(a);
    }

    private static void RetryRunsWhole(RamBus bus, SoftCpu cpu, State before)
    {
        bus.ExitAddress = null;
        cpu.Step();
        Assert.Equal(before.Retired + 1, cpu.InstructionsRetired);
        Assert.NotEqual(before.Rip, cpu.Rip);
    }

    private static State Snapshot(SoftCpu cpu) =>
        new(string.Join(',', cpu.Registers.Select(r => r.ToString("X", System.Globalization.CultureInfo.InvariantCulture))), cpu.Rip, cpu.Rflags, cpu.InstructionsRetired);

    private sealed record State(string Registers, ulong Rip, ulong Rflags, long Retired);
}
