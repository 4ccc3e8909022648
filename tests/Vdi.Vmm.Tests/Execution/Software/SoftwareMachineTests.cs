using Vdi.Guest.Desktop;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>Whole machines on the software engine: what only it does (engine choice, its own timer, its limits).</summary>
public sealed class SoftwareMachineTests
{
    [Fact]
    public void Auto_falls_back_to_the_software_engine_and_says_why_when_kvm_cannot_be_opened()
    {
        using var machine = MachineBuilder.Build(new MachineConfig
        {
            Image = TestGuests.PowerOff(0),
            MemoryMiB = 8,
            Engine = EngineChoice.Auto,
            KvmDevicePath = "/nonexistent/kvm",
        });
        Assert.Equal(ExecutionEngine.Software, machine.Engine.Engine);
        Assert.Contains("/nonexistent/kvm", machine.Engine.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Asking_for_kvm_where_there_is_none_fails_with_the_device_named()
    {
        var config = new MachineConfig { Image = TestGuests.PowerOff(0), MemoryMiB = 8, Engine = EngineChoice.Kvm, KvmDevicePath = "/nonexistent/kvm" };
        var e = Assert.Throws<Kvm.KvmException>(() => MachineBuilder.Build(config));
        Assert.Contains("/nonexistent/kvm", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_instruction_the_engine_does_not_model_crashes_that_machine_with_its_name_and_registers()
    {
        var image = GuestAssembly.Build("cpuid", GuestLayout.ImageBase, g => g.Asm.cpuid());
        using var machine = Build(image);
        var exit = await RunAsync(machine);

        Assert.Equal(MachineExitKind.Crashed, exit.Kind);
        Assert.Contains("does not model 'cpuid'", exit.Crash!.Reason, StringComparison.Ordinal);
        Assert.Equal(image.LoadAddress + 2, exit.Crash.Registers!.Value.Rip);
    }

    [Fact]
    public async Task Code_the_guest_rewrites_runs_as_rewritten()
    {
        // Loops until `mov eax, imm32` yields 7; only a decoder that sees the patched immediate ever gets there.
        var image = GuestAssembly.Build("self-modifying", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var again = a.CreateLabel("again");
            var patch = a.CreateLabel("patch");
            var done = a.CreateLabel("done");
            a.Label(ref again);
            a.lea(rbx, __[patch]);
            a.Label(ref patch);
            a.mov(eax, 1u);
            a.cmp(eax, 7);
            a.je(done);
            a.mov(__dword_ptr[rbx + 1], 7u);
            a.jmp(again);
            a.Label(ref done);
            PowerPortEmitter.EmitPowerOffWithEax(a);
        });
        using var machine = Build(image);
        var exit = await RunAsync(machine);
        Assert.Equal(new MachineExit(MachineExitKind.PoweredOff, 7, null), exit);
    }

    [Fact]
    public async Task The_local_apic_timer_runs_in_real_time_so_the_idle_desktop_clock_ticks()
    {
        using var machine = MachineBuilder.Build(new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 256, Engine = EngineChoice.Software, Display = new DisplayProperties(800, 600) });
        var clockFlushes = 0;
        machine.Devices.Gpu.Flushed += f =>
        {
            if (!f.IsFullFrame)
                Interlocked.Increment(ref clockFlushes); // nothing else changes on an idle desktop
        };
        machine.Start();
        await Task.Delay(2600);
        Assert.InRange(Volatile.Read(ref clockFlushes), 2, 4);
        machine.Stop();
    }

    private static Vmm.Machine.Machine Build(GuestImage image) =>
        MachineBuilder.Build(new MachineConfig { Image = image, MemoryMiB = 8, Engine = EngineChoice.Software });

    private static async Task<MachineExit> RunAsync(Vmm.Machine.Machine machine)
    {
        machine.Start();
        return await machine.WaitForExitAsync(TimeSpan.FromSeconds(20));
    }
}
