using Iced.Intel;
using Vdi.Tests.Shared;
using Vdi.Tests.Shared.Emulation;
using Vdi.Vmm.Devices;

namespace Vdi.Guest.Tests;

/// <summary>The built-in guest run on the test emulator, with vCPUs interleaved in many orders.</summary>
public class BuiltInGuestBehaviourTests
{
    private const int Iterations = 40;

    public static TheoryData<int, int> VcpuCountsAndSeeds()
    {
        var data = new TheoryData<int, int>();
        foreach (var count in new[] { 1, 2, 3, 4, 8 })
        {
            foreach (var seed in new[] { 1, 2, 3 })
                data.Add(count, seed);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(VcpuCountsAndSeeds))]
    public void PrintsTheContractTextAndReachesIdle(int vcpus, int seed)
    {
        var machine = Boot(vcpus, seed);

        var expected = $"Vdi built-in guest: {vcpus} vCPUs\n"
            + string.Concat(Enumerable.Range(0, vcpus).Select(i => $"cpu {i} online\n"))
            + $"counter {vcpus * Iterations}\n";
        Assert.Equal(expected, machine.Serial.ToString());
        Assert.Equal(0, machine.SerialOverruns);
        Assert.Equal([BootMarkers.Entered, BootMarkers.AllVcpusOnline, BootMarkers.CounterDone, BootMarkers.Idle], machine.BootMarkers);
        Assert.Null(machine.ExitCode);
        Assert.All(machine.Cpus, c => Assert.True(c.Halted && c.InterruptsEnabled, $"vCPU {c.Index} should idle in sti; hlt"));
        Assert.Empty(machine.UnclaimedPorts);
        Assert.Empty(machine.UnclaimedMmio);
    }

    [Fact]
    public void SharedVariablesHoldTheFinalCounts()
    {
        var image = BuiltInGuest.Build(Iterations);
        var machine = new EmulatedMachine(image, vcpuCount: 3);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());

        Assert.Equal(3UL * Iterations, machine.ReadRamQword(image.Symbols["counter"]));
        Assert.Equal(3UL, machine.ReadRamQword(image.Symbols["done"]));
        Assert.Equal(3UL, machine.ReadRamQword(image.Symbols["turn"]));
    }

    [Fact]
    public void EveryVcpuEnablesItsLocalApicWithTheSpuriousVectorAndMasksLint0()
    {
        var machine = Boot(vcpus: 4, seed: 1);
        Assert.All(machine.Cpus, c =>
        {
            Assert.Equal(0x1FFu, c.LocalApicWrites[ApicRegisters.SpuriousVectorRegister]);
            Assert.Equal(ApicRegisters.LvtMasked, c.LocalApicWrites[ApicRegisters.LvtLint0Register]);
            Assert.Equal(0u, c.LocalApicWrites[ApicRegisters.TaskPriorityRegister]);
        });
    }

    [Fact]
    public void RoutesTheHostRequestIrqToVector0x50OnVcpu0EdgeActiveHighUnmasked()
    {
        var machine = Boot(vcpus: 2, seed: 1);
        Assert.Equal(0x50u, machine.IoApicRedirection[PortMap.HostRequestIrq * 2]); // above the timer (0x40): never starved
        Assert.Equal(0u, machine.IoApicRedirection[(PortMap.HostRequestIrq * 2) + 1]);
        Assert.All(Enumerable.Range(0, 24).Where(p => p != PortMap.HostRequestIrq), p =>
            Assert.Equal(ApicRegisters.LvtMasked, machine.IoApicRedirection[p * 2]));
    }

    [Fact]
    public void PowersOffWhenTheHostRequestsIt()
    {
        var machine = Boot(vcpus: 2, seed: 1);
        var before = machine.Serial.Length;

        machine.HostRequests.Enqueue(PortMap.HostRequestPowerOff);
        machine.PulseIrq(PortMap.HostRequestIrq);

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0u, machine.ExitCode);
        Assert.Equal("power off\n", machine.Serial.ToString(before, machine.Serial.Length - before));
        Assert.Equal(1, machine.Cpus[0].EndOfInterrupts);
    }

    [Fact]
    public void IgnoresRequestsItDoesNotKnowAndServesTheRestOfTheQueue()
    {
        var machine = Boot(vcpus: 2, seed: 1);
        var before = machine.Serial.Length;

        machine.HostRequests.Enqueue(PortMap.HostRequestMotionOn); // the desktop's, not this guest's
        machine.HostRequests.Enqueue(0xFF);
        machine.PulseIrq(PortMap.HostRequestIrq);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        Assert.Null(machine.ExitCode);
        Assert.Empty(machine.HostRequests);
        Assert.Equal(before, machine.Serial.Length);

        // One interrupt for several requests: the guest reads until the queue is empty.
        machine.HostRequests.Enqueue(PortMap.HostRequestMotionOff);
        machine.HostRequests.Enqueue(PortMap.HostRequestPowerOff);
        machine.PulseIrq(PortMap.HostRequestIrq);
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0u, machine.ExitCode);
    }

    [Fact]
    public void ARequestPostedBeforeTheGuestIsIdleIsServedWithoutAnInterrupt()
    {
        var machine = new EmulatedMachine(BuiltInGuest.Build(Iterations), vcpuCount: 2);
        machine.HostRequests.Enqueue(PortMap.HostRequestPowerOff);

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.EndsWith($"counter {2 * Iterations}\npower off\n", machine.Serial.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, machine.Cpus[0].EndOfInterrupts);
    }

    [Fact]
    public void AnEmptyHostRequestIsAcknowledgedAndTheGuestKeepsIdling()
    {
        var image = BuiltInGuest.Build(Iterations);
        var machine = new EmulatedMachine(image, vcpuCount: 2);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());

        machine.PulseIrq(PortMap.HostRequestIrq); // nothing queued: the port reads HostRequestNone
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        Assert.Null(machine.ExitCode);
        Assert.Equal(0, machine.Ram[image.Symbols["host_request_pending"]]);
        Assert.False(machine.Cpus[0].HasInterruptInService);

        machine.HostRequests.Enqueue(PortMap.HostRequestPowerOff);
        machine.PulseIrq(PortMap.HostRequestIrq);
        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(2, machine.Cpus[0].EndOfInterrupts);
    }

    [Fact]
    public void ARequestPostedJustBeforeStiHltStillWakesVcpu0()
    {
        var image = BuiltInGuest.Build(Iterations);
        var code = GuestCode.Decode(image);
        var bootstrapSti = code.Zip(code.Skip(1)).First(p => p.First.Mnemonic == Mnemonic.Sti && p.Second.Mnemonic == Mnemonic.Hlt).First.IP;
        var machine = new EmulatedMachine(image, vcpuCount: 1);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());

        // An empty request makes vCPU 0 go round its loop; stop it with interrupts off, about to execute sti; hlt.
        machine.PulseIrq(PortMap.HostRequestIrq);
        var cpu = machine.Cpus[0];
        for (var steps = 0; cpu.Rip != bootstrapSti || cpu.InterruptsEnabled; steps++)
        {
            Assert.True(steps < 1000, "vCPU 0 never came back to its sti; hlt");
            cpu.Step();
        }

        machine.HostRequests.Enqueue(PortMap.HostRequestPowerOff);
        machine.PulseIrq(PortMap.HostRequestIrq);

        Assert.Equal(EmulationOutcome.PoweredOff, machine.Run());
        Assert.Equal(0u, machine.ExitCode);
    }

    [Fact]
    public void ZeroIterationsCountsNothing()
    {
        var machine = new EmulatedMachine(BuiltInGuest.Build(0), vcpuCount: 2);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        Assert.EndsWith("counter 0\n", machine.Serial.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void PrintsLargeCountersInFull()
    {
        var machine = new EmulatedMachine(BuiltInGuest.Build(123_457), vcpuCount: 1);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run(maxSteps: 10_000_000));
        Assert.EndsWith("counter 123457\n", machine.Serial.ToString(), StringComparison.Ordinal);
    }

    private static EmulatedMachine Boot(int vcpus, int seed)
    {
        var machine = new EmulatedMachine(BuiltInGuest.Build(Iterations), vcpus, seed: seed);
        Assert.Equal(EmulationOutcome.AllHalted, machine.Run());
        return machine;
    }
}
