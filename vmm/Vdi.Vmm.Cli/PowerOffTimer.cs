using System.Diagnostics;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Cli;

/// <summary>The benchmarks' stopwatch for a guest that runs a fixed workload and powers off.</summary>
internal static class PowerOffTimer
{
    /// <summary>
    /// Wall time from start to power-off of a machine built from <paramref name="config"/>; <paramref name="prepare"/>
    /// runs before the start, <paramref name="check"/> after the exit. A guest that does not power off is an error.
    /// </summary>
    public static double Seconds(MachineConfig config, Action<Vmm.Machine.Machine>? prepare = null, Action<Vmm.Machine.Machine>? check = null)
    {
        using var machine = MachineBuilder.Build(config);
        prepare?.Invoke(machine);
        var started = Stopwatch.GetTimestamp();
        machine.Start();
        var exit = machine.WaitForExitAsync(TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (exit.Kind != MachineExitKind.PoweredOff)
            throw new InvalidOperationException($"the {config.Image.Name} guest did not power off: {exit.Crash?.ToString() ?? exit.Kind.ToString()}");
        check?.Invoke(machine);
        return seconds;
    }
}
