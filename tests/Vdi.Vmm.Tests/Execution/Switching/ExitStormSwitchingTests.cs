using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Guests;
using Vdi.Vmm.Tests.Machine;
using Xunit.Abstractions;
using static Iced.Intel.AssemblerRegisters;

namespace Vdi.Vmm.Tests.Execution.Switching;

/// <summary>Exit-storm switching on real KVM: a vCPU in a port-I/O loop moves to the software engine and back, exactly.</summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class ExitStormSwitchingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_port_io_loop_moves_to_software_and_back_and_computes_what_kvm_alone_and_the_software_engine_compute()
    {
        const int iterations = 4000;
        var image = ExitStormLoop.Build(iterations);
        var expected = unchecked((int)ExitStormLoop.Checksum(iterations));

        using var switching = KvmMachines.Build(image, memoryMiB: 16);
        using var kvmOnly = KvmMachines.Build(image, memoryMiB: 16, exitStormSwitching: false);
        using var software = KvmMachines.Build(image, memoryMiB: 16, engine: EngineChoice.Software);
        var onExit = await KvmMachines.RunToExitAsync(switching);
        var offExit = await KvmMachines.RunToExitAsync(kvmOnly);
        var softExit = await KvmMachines.RunToExitAsync(software);

        Assert.Equal(MachineExitKind.PoweredOff, onExit.Kind);
        Assert.Equal(expected, offExit.ExitCode);
        Assert.Equal(expected, softExit.ExitCode);
        Assert.Equal(expected, onExit.ExitCode);

        var stats = Assert.Single(switching.EngineSwitches);
        output.WriteLine(stats.ToString());
        Assert.True(stats.ToSoftware > 0, stats.ToString());
        Assert.Equal(stats.ToSoftware, stats.ToKvm);
        Assert.True(stats.SoftwareDeviceAccesses > iterations / 2, $"most port reads should run in software: {stats}");
        Assert.Equal(iterations, switching.Devices.Sequence.Reads);
        Assert.Empty(kvmOnly.EngineSwitches);
        Assert.Empty(software.EngineSwitches);
    }

    [Fact]
    public async Task An_mmio_polling_loop_moves_to_software_and_back_with_the_results_of_kvm_alone_and_the_software_engine()
    {
        const int iterations = 3000;
        var image = MmioPollingLoop(iterations);
        using var switching = KvmMachines.Build(image, memoryMiB: 16);
        using var kvmOnly = KvmMachines.Build(image, memoryMiB: 16, exitStormSwitching: false);
        using var software = KvmMachines.Build(image, memoryMiB: 16, engine: EngineChoice.Software);
        var on = await KvmMachines.RunToExitAsync(switching);
        var off = await KvmMachines.RunToExitAsync(kvmOnly);
        var soft = await KvmMachines.RunToExitAsync(software);

        Assert.Equal(MachineExitKind.PoweredOff, off.Kind);
        Assert.Equal(off, soft);
        Assert.Equal(off, on);
        var stats = Assert.Single(switching.EngineSwitches);
        output.WriteLine(stats.ToString());
        Assert.True(stats.ToSoftware > 0 && stats.ToSoftware == stats.ToKvm, stats.ToString());
        Assert.True(stats.SoftwareDeviceAccesses > iterations, $"most MMIO reads should run in software: {stats}");
    }

    /// <summary>Reads the GPU's virtio-mmio magic value and device id each iteration, folded into a checksum (the exit code).</summary>
    private static GuestImage MmioPollingLoop(int iterations) =>
        GuestAssembly.Build("mmio-polling", GuestLayout.ImageBase, g =>
        {
            var a = g.Asm;
            var loop = a.CreateLabel("poll");
            a.mov(rbx, MmioMap.VirtioAddress(MmioMap.GpuSlot));
            a.mov(ecx, iterations);
            a.mov(esi, 0x811C_9DC5u);
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[rbx]); // MagicValue
            a.xor(esi, eax);
            a.mov(eax, __dword_ptr[rbx + 8]); // DeviceID
            a.add(esi, eax);
            a.imul(esi, esi, 0x0100_0193);
            a.add(esi, ecx);
            a.dec(ecx);
            a.jnz(loop);
            a.mov(eax, esi);
            a.mov(dx, PortMap.PowerOff);
            a.@out(dx, eax);
            a.hlt();
        });

    [Fact]
    public void The_benchmark_runs_the_loop_both_ways_with_the_reference_checksum()
    {
        var figures = ExitStormBenchmark.Run(2000, repetitions: 1);
        output.WriteLine(figures.ToString());
        Assert.True(figures.ChecksumsMatch);
        Assert.Null(figures.Off.Switches);
        Assert.True(figures.On.Switches!.ToSoftware > 0, figures.ToString());
        Assert.True(figures.On.Exits < figures.Off.Exits / 10, $"{figures.On.Exits} exits with switching, {figures.Off.Exits} without");
    }

    [Fact]
    public async Task Registers_and_flags_round_trip_kvm_to_software_to_kvm_exactly()
    {
        var image = RoundTripGuest.Build();
        using var switching = KvmMachines.Build(image, memoryMiB: 16);
        using var kvmOnly = KvmMachines.Build(image, memoryMiB: 16, exitStormSwitching: false);
        Assert.Equal(MachineExitKind.PoweredOff, (await KvmMachines.RunToExitAsync(switching)).Kind);
        Assert.Equal(MachineExitKind.PoweredOff, (await KvmMachines.RunToExitAsync(kvmOnly)).Kind);

        var stats = Assert.Single(switching.EngineSwitches);
        output.WriteLine(stats.ToString());
        Assert.Equal(1, stats.ToSoftware);
        Assert.Equal(1, stats.ToKvm);
        Assert.Equal(RoundTripGuest.OutsInSoftware, stats.SoftwareDeviceAccesses);

        var viaSoftware = RoundTripGuest.ReadDump(switching);
        var kvmAlone = RoundTripGuest.ReadDump(kvmOnly);
        Assert.Equal(RoundTripGuest.Expected(), kvmAlone[..RoundTripGuest.Registers]);
        Assert.Equal(kvmAlone, viaSoftware);
        var flags = viaSoftware[RoundTripGuest.Registers];
        Assert.Equal(RoundTripGuest.ExpectedFlags, flags & RoundTripGuest.CheckedFlags);
    }

    [Fact]
    public async Task The_lapic_timer_keeps_ticking_while_the_vcpu_runs_software_slices()
    {
        const int ticks = 300; // 1 kHz: about 0.3 s of storm
        var (gaps, stats) = await MeasureTickGaps(ticks, switching: true);
        var (kvmGaps, _) = await MeasureTickGaps(ticks, switching: false); // the host's own noise, for comparison
        output.WriteLine($"switching on:  {Describe(gaps)}");
        output.WriteLine($"switching off: {Describe(kvmGaps)}");
        output.WriteLine(stats!.ToString());

        Assert.True(gaps.Length >= ticks - 1, $"{gaps.Length + 1} ticks reported");
        Assert.True(stats.ToSoftware > 10, $"the storm should run in software slices: {stats}");
        Assert.True(stats.SlicesEndedBy[SliceEnd.TimeBound] > 0, $"the time bound should end slices in a storm: {stats}");
        // Ticks arrive at the timer's rate while the storm runs in slices bounded at 500 µs. The tail (and the longest
        // slice, the first, which also pays for JIT compilation) is the host's: on a loaded 2-core machine the vCPU
        // thread is preempted for tens of milliseconds now and then, in KVM as in a slice. It is reported, not asserted.
        var median = gaps[gaps.Length / 2];
        Assert.True(median <= TimeSpan.FromMilliseconds(1.5), $"median tick gap {median.TotalMicroseconds:F0} µs");
    }

    /// <summary>Runs the timer storm guest; the gaps between the tick handler's reports (host timestamps), sorted.</summary>
    private static async Task<(TimeSpan[] Gaps, EngineSwitchStats? Stats)> MeasureTickGaps(int ticks, bool switching)
    {
        using var machine = KvmMachines.Build(TestGuests.ExitStormWithTimer(ticks), memoryMiB: 16, exitStormSwitching: switching);
        var reported = new List<TimeSpan>(); // appended on the vCPU thread, read after it finished
        machine.Devices.Power.MarkerReached += m =>
        {
            if (m.Value == TestGuests.TickMarker)
                reported.Add(m.SinceCreation);
        };
        var exit = await KvmMachines.RunToExitAsync(machine);
        Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
        var gaps = reported.Zip(reported.Skip(1), (a, b) => b - a).Order().ToArray();
        return (gaps, machine.EngineSwitches is [var stats, ..] ? stats : null);
    }

    private static string Describe(TimeSpan[] gaps) =>
        $"{gaps.Length + 1} ticks over {gaps.Sum(g => g.TotalMilliseconds):F0} ms; gap median {gaps[gaps.Length / 2].TotalMicroseconds:F0} µs, " +
        $"p90 {gaps[(int)(gaps.Length * 0.9)].TotalMicroseconds:F0} µs, p99 {gaps[(int)(gaps.Length * 0.99)].TotalMicroseconds:F0} µs, " +
        $"max {gaps[^1].TotalMicroseconds:F0} µs";
}
