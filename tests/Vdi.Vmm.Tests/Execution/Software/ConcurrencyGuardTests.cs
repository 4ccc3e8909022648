using Iced.Intel;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Vcpu;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// Three software vCPUs of one machine add to one shared counter with locked instructions: one host atomic each when
/// the counter is aligned, guarded segments (the other vCPUs stalled) when it straddles a cache line. Totals are exact.
/// </summary>
public sealed class ConcurrencyGuardTests
{
    private const int Vcpus = 3;
    private const int Iterations = 1_000_000;

    [Fact]
    public async Task Lock_xadd_on_an_aligned_counter_is_exact_and_never_guarded()
    {
        using var machine = Build(offset: 0, (a, counter) =>
        {
            a.mov(eax, 1);
            a.@lock.xadd(__qword_ptr[counter], rax);
        });
        machine.Start();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Vcpus * Iterations, null), exit);
        Assert.Equal(0, machine.Guard.GuardedSegments);
        Assert.Equal(0, machine.Guard.GuardedInstructions);
        Assert.Equal((Vcpus * Iterations) + Vcpus, machine.Guard.AtomicOperations); // and each vCPU's "done"
        Assert.Empty(machine.Guard.RecentSegments);
    }

    [Fact]
    public async Task Lock_add_on_a_counter_straddling_a_cache_line_is_exact_and_guarded()
    {
        using var machine = Build(offset: 62, (a, counter) => a.@lock.add(__dword_ptr[counter], 1));
        machine.Start();
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Vcpus * Iterations, null), exit);
        Assert.Equal(Vcpus * Iterations, machine.Guard.GuardedInstructions);
        Assert.InRange(machine.Guard.GuardedSegments, 1, Vcpus * Iterations);
        Assert.Equal(Vcpus, machine.Guard.AtomicOperations); // only the aligned "done" counts
        var recent = machine.Guard.RecentSegments;
        Assert.NotEmpty(recent);
        Assert.All(recent, e =>
        {
            Assert.Equal(Mnemonic.Add, e.Mnemonic);
            Assert.Equal(4, e.Size);
            Assert.Equal(62UL, e.Address % 64);
            Assert.InRange(e.Vcpu, 0, Vcpus - 1);
        });
    }

    [Fact]
    public async Task The_host_pauses_and_resumes_all_while_the_vcpus_stall_each_other()
    {
        using var machine = Build(offset: 62, (a, counter) => a.@lock.add(__dword_ptr[counter], 1));
        machine.Start();
        var pauses = 0;
        while (!machine.Completion.IsCompleted && pauses < 20)
        {
            await Task.Delay(10);
            if (machine.Completion.IsCompleted)
                break;
            var asked = System.Diagnostics.Stopwatch.StartNew();
            if (!machine.PauseAll(TimeSpan.FromSeconds(10)))
            {
                // Only a guest that finished meanwhile ends a pause early: its stop releases every vCPU, and the pause says so.
                Assert.True(asked.Elapsed < TimeSpan.FromSeconds(10), "pause-all never settled");
                break;
            }
            Assert.All(machine.VcpuStates, s => Assert.True(s is VcpuState.Paused or VcpuState.Stopped, $"a vCPU is {s} under pause-all"));
            var guarded = machine.Guard.GuardedInstructions;
            await Task.Delay(5);
            Assert.Equal(guarded, machine.Guard.GuardedInstructions); // nobody runs while paused
            machine.ResumeAll();
            pauses++;
        }
        var exit = await machine.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, Vcpus * Iterations, null), exit);
        Assert.True(pauses > 0);
    }

    private static Vmm.Machine.Machine Build(int offset, Action<Assembler, AssemblerRegister64> increment) =>
        MachineBuilder.Build(new MachineConfig { Image = SharedCounterGuest.Build(Iterations, offset, increment), MemoryMiB = 8, Vcpus = Vcpus, Engine = EngineChoice.Software });
}
