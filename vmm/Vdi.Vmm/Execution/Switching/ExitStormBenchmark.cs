using System.Diagnostics;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// One engine configuration's runs of the exit-storm loop: <see cref="Elapsed"/> is the full run (start to power-off);
/// <see cref="NanosecondsPerIteration"/> is marginal — the difference to a run of a tenth of the iterations, divided by
/// the extra iterations — so machine start, power-off and the first slice's JIT compilation do not count.
/// <see cref="CpuNanosecondsPerIteration"/> is the same with the process's CPU time (the vCPU thread, in KVM_RUN or
/// in slices, is nearly all of it): less disturbed than wall time when other work competes for the host's cores.
/// </summary>
public sealed record ExitStormRun(
    bool Switching, TimeSpan Elapsed, double NanosecondsPerIteration, TimeSpan CpuTime, double CpuNanosecondsPerIteration,
    uint Checksum, long Exits, EngineSwitchStats? Switches);

/// <summary>The exit-storm loop on KVM with switching on and off: time per iteration of each and their ratio.</summary>
public sealed record ExitStormFigures(int Iterations, ExitStormRun On, ExitStormRun Off, uint ExpectedChecksum)
{
    /// <summary>How many times faster the loop runs with switching on (wall time).</summary>
    public double Speedup => Off.NanosecondsPerIteration / On.NanosecondsPerIteration;

    /// <summary>How many times less CPU time the loop takes with switching on.</summary>
    public double CpuSpeedup => Off.CpuNanosecondsPerIteration / On.CpuNanosecondsPerIteration;

    public bool ChecksumsMatch => On.Checksum == ExpectedChecksum && Off.Checksum == ExpectedChecksum;

    public override string ToString() =>
        $"exit-storm loop, {Iterations} iterations: switching on {On.NanosecondsPerIteration / 1000:F2} µs/iteration, " +
        $"off {Off.NanosecondsPerIteration / 1000:F2} µs/iteration, {Speedup:F1}x (CPU time: on {On.CpuNanosecondsPerIteration / 1000:F2}, " +
        $"off {Off.CpuNanosecondsPerIteration / 1000:F2} µs/iteration, {CpuSpeedup:F1}x); checksums {(ChecksumsMatch ? "match" : "DIFFER")}" +
        (On.Switches is { } s ? $"\n  {s}" : "");
}

/// <summary>
/// The figure behind exit-storm switching (for <c>vdi-vmm bench engines</c>): the same port-I/O loop guest
/// (<see cref="ExitStormLoop.Build"/>) on KVM with <see cref="MachineConfig.ExitStormSwitching"/> on and off, each
/// timed from start to power-off; every run's checksum is checked against the reference (a wrong one throws).
/// </summary>
public static class ExitStormBenchmark
{
    /// <param name="iterations">Loop iterations of the measured run (at least 10); 100,000 takes a few seconds off-switching here.</param>
    /// <param name="repetitions">Measurements of each configuration, alternating; the fastest of each is reported (the least disturbed by other load).</param>
    public static ExitStormFigures Run(int iterations, int repetitions = 3, string? kvmDevicePath = null, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 10);
        ArgumentOutOfRangeException.ThrowIfLessThan(repetitions, 1);
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        _ = Time(iterations / 10, switching: true, kvmDevicePath, limit); // warm-up: JIT-compiles the slice path
        ExitStormRun? off = null, on = null;
        for (var r = 0; r < repetitions; r++)
        {
            off = Fastest(off, Measure(iterations, switching: false, kvmDevicePath, limit));
            on = Fastest(on, Measure(iterations, switching: true, kvmDevicePath, limit));
        }
        return new ExitStormFigures(iterations, on!, off!, ExitStormLoop.Checksum(iterations));
    }

    private static ExitStormRun Fastest(ExitStormRun? best, ExitStormRun run) =>
        best is null || run.NanosecondsPerIteration < best.NanosecondsPerIteration ? run : best;

    private static ExitStormRun Measure(int iterations, bool switching, string? kvmDevicePath, TimeSpan timeout)
    {
        var baseline = iterations / 10;
        var small = Time(baseline, switching, kvmDevicePath, timeout);
        var full = Time(iterations, switching, kvmDevicePath, timeout);
        var extra = iterations - baseline;
        return full with
        {
            NanosecondsPerIteration = (full.Elapsed - small.Elapsed).TotalNanoseconds / extra,
            CpuNanosecondsPerIteration = (full.CpuTime - small.CpuTime).TotalNanoseconds / extra,
        };
    }

    private static ExitStormRun Time(int iterations, bool switching, string? kvmDevicePath, TimeSpan timeout)
    {
        using var machine = MachineBuilder.Build(new MachineConfig
        {
            Image = ExitStormLoop.Build(iterations),
            MemoryMiB = 16,
            Engine = EngineChoice.Kvm,
            KvmDevicePath = kvmDevicePath,
            ExitStormSwitching = switching,
        });
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        machine.Start();
        var exit = machine.WaitForExitAsync(timeout).GetAwaiter().GetResult();
        var elapsed = Stopwatch.GetElapsedTime(started);
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        if (exit.Kind != MachineExitKind.PoweredOff)
            throw new InvalidOperationException($"the exit-storm guest did not power off (switching {(switching ? "on" : "off")}): {exit}");
        if (unchecked((uint)exit.ExitCode) != ExitStormLoop.Checksum(iterations))
            throw new InvalidOperationException($"the exit-storm guest computed a wrong checksum (switching {(switching ? "on" : "off")}, {iterations} iterations)");
        return new ExitStormRun(switching, elapsed, elapsed.TotalNanoseconds / iterations, cpu, cpu.TotalNanoseconds / iterations, unchecked((uint)exit.ExitCode), machine.Exits,
            machine.EngineSwitches is [var switches, ..] ? switches : null);
    }
}
