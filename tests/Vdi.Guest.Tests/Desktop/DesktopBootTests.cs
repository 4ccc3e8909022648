using System.Diagnostics;
using Vdi.Guest.Desktop;
using Vdi.Guest.Paging;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Devices.Display;
using Xunit.Abstractions;

namespace Vdi.Guest.Tests.Desktop;

public sealed class DesktopBootTests(ITestOutputHelper output)
{
    [Fact]
    public void Boots_and_shows_the_initial_mode()
    {
        var stopwatch = Stopwatch.StartNew();
        using var machine = new DeviceEmulatedMachine(DesktopGuest.Build(), new DisplayProperties(640, 480, 96));
        var outcome = machine.Run();
        output.WriteLine($"{outcome} after {machine.Cpu.InstructionsRetired} instructions, {stopwatch.ElapsedMilliseconds} ms, rip 0x{machine.Cpu.Rip:X}");
        output.WriteLine(machine.Serial);
        output.WriteLine(machine.Devices.Gpu.LastError ?? "no gpu error");
        Assert.Equal(EmulationOutcome.AllHalted, outcome);
        Assert.Contains("desktop 640x480 @ 96 dpi\n", machine.Serial, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Extra_vcpus_load_the_desktops_page_tables_and_idle_while_vcpu_0_runs_the_desktop()
    {
        using var machine = new DeviceEmulatedMachine(DesktopGuest.Build(), new DisplayProperties(640, 480, 96), vcpus: 3);
        machine.RunUntilIdle();
        // At boot the others wait (a short spin) until vCPU 0 has built the tables, load them and halt.
        Assert.All(machine.Cpus, cpu => Assert.Equal(GuestPageTables.Pml4, cpu.ControlRegisters.Cr3));
        var booted = machine.Cpus.Select(cpu => cpu.InstructionsRetired).ToArray();
        var request = machine.Devices.Display.RequestAsync(new DisplayProperties(800, 600, 192), TimeSpan.FromSeconds(10));
        machine.RunUntilIdle();
        await request;
        Assert.All(machine.Cpus, cpu => Assert.True(cpu.Halted && cpu.InterruptsEnabled));
        Assert.All(machine.Cpus.Skip(1), cpu => Assert.True(cpu.InstructionsRetired - booted[cpu.Index] < 100, $"vCPU {cpu.Index} ran {cpu.InstructionsRetired - booted[cpu.Index]} instructions"));
        Assert.Contains("desktop 800x600 @ 192 dpi\n", machine.Serial, StringComparison.Ordinal);
    }
}
