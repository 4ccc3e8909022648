using System.Diagnostics;
using Vdi.Vmm.Guest;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>One engine configuration's run of the exit-storm loop.</summary>
public sealed record ExitStormRun(bool Switching, TimeSpan Elapsed, double NanosecondsPerIteration, uint Checksum, long Exits, EngineSwitchStats? Switches);

/// <summary>The exit-storm loop on KVM with switching on and off: time per iteration of each and their ratio.</summary>
public sealed record ExitStormFigures(int Iterations, ExitStormRun On, ExitStormRun Off, uint ExpectedChecksum)
{
    /// <summary>How many times faster the loop runs with switching on.</summary>
    public double Speedup => Off.NanosecondsPerIteration / On.NanosecondsPerIteration;

    public bool ChecksumsMatch => On.Checksum == ExpectedChecksum && Off.Checksum == ExpectedChecksum;

    public override string ToString() =>
        $"exit-storm loop, {Iterations} iterations: switching on {On.NanosecondsPerIteration / 1000:F2} µs/iteration, " +
        $"off {Off.NanosecondsPerIteration / 1000:F2} µs/iteration, {Speedup:F1}x; checksums {(ChecksumsMatch ? "match" : "DIFFER")}" +
        (On.Switches is { } s ? $"\n  {s}" : "");
}

/// <summary>
/// The figure behind exit-storm switching (for <c>vdi-vmm bench engines</c>): the same port-I/O loop guest
/// (<see cref="TestGuests.ExitStormLoop"/>) on KVM with <see cref="MachineConfig.ExitStormSwitching"/> on and off, each
/// timed from start to power-off; the guest's checksum proves both ran the same computation.
/// </summary>
public static class ExitStormBenchmark
{
    public static ExitStormFigures Run(int iterations, string? kvmDevicePath = null, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        var image = TestGuests.ExitStormLoop(iterations);
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        var off = RunOnce(image, iterations, switching: false, kvmDevicePath, limit);
        var on = RunOnce(image, iterations, switching: true, kvmDevicePath, limit);
        return new ExitStormFigures(iterations, on, off, TestGuests.ExitStormChecksum(iterations));
    }

    private static ExitStormRun RunOnce(GuestImage image, int iterations, bool switching, string? kvmDevicePath, TimeSpan timeout)
    {
        using var machine = MachineBuilder.Build(new MachineConfig
        {
            Image = image,
            MemoryMiB = 16,
            Engine = EngineChoice.Kvm,
            KvmDevicePath = kvmDevicePath,
            ExitStormSwitching = switching,
        });
        var started = Stopwatch.GetTimestamp();
        machine.Start();
        var exit = machine.WaitForExitAsync(timeout).GetAwaiter().GetResult();
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (exit.Kind != MachineExitKind.PoweredOff)
            throw new InvalidOperationException($"the exit-storm guest did not power off (switching {(switching ? "on" : "off")}): {exit}");
        return new ExitStormRun(switching, elapsed, elapsed.TotalNanoseconds / iterations, unchecked((uint)exit.ExitCode), machine.Exits,
            machine.EngineSwitches is [var switches, ..] ? switches : null);
    }
}
