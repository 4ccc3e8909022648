using System.Diagnostics;
using System.Runtime.CompilerServices;
using Vdi.Vmm.Execution.Software;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// Runs a KVM vCPU's hot region on the software engine for one bounded slice. The CPU is in hybrid mode: it never
/// delivers interrupts (KVM's in-kernel local APIC keeps them pending), and the slice ends before anything only KVM
/// serves. It ends when the code leaves the region, after <see cref="ExitStormThresholds.QuietInstructions"/> without a
/// device access, at the instruction or time bound (interrupt latency), when the vCPU is kicked, or when the guest
/// rewrites code. A <see cref="SoftwareEngineException"/> propagates: the machine stops with a crash report.
/// </summary>
internal static class SoftwareSlice
{
    public readonly record struct Result(SliceEnd End, long Instructions, long DeviceAccesses, long Ticks);

    /// <param name="kicked">Polled every <see cref="ExitStormThresholds.CheckInterval"/> instructions.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the hot loop: optimised from its first slice, no tier-0 phase
    public static Result Run(SoftCpu cpu, ISoftBus bus, HotRegion region, ExitStormThresholds thresholds, Func<bool> kicked)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(thresholds.SliceTime.TotalSeconds * Stopwatch.Frequency);
        var firstInstruction = cpu.InstructionsRetired;
        var firstAccess = cpu.DeviceAccesses;
        var codeVersion = bus.CodeVersion;
        var lastAccess = firstAccess;
        var quiet = 0;
        var end = SliceEnd.InstructionBound;
        var untilCheck = thresholds.CheckInterval;
        for (var n = 0; n < thresholds.SliceInstructions; n++)
        {
            if (!region.Contains(cpu.Rip))
            {
                end = SliceEnd.LeftRegion;
                break;
            }
            if (--untilCheck == 0)
            {
                untilCheck = thresholds.CheckInterval;
                if (kicked())
                {
                    end = SliceEnd.Kicked;
                    break;
                }
                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    end = SliceEnd.TimeBound;
                    break;
                }
            }
            try
            {
                cpu.Step();
            }
            catch (SoftwareSliceExit)
            {
                end = SliceEnd.KvmOnly;
                break;
            }
            if (bus.CodeVersion != codeVersion)
            {
                end = SliceEnd.CodeChanged;
                break;
            }
            if (cpu.DeviceAccesses != lastAccess)
            {
                lastAccess = cpu.DeviceAccesses;
                quiet = 0;
            }
            else if (++quiet >= thresholds.QuietInstructions)
            {
                end = SliceEnd.Quiet;
                break;
            }
        }
        return new Result(end, cpu.InstructionsRetired - firstInstruction, cpu.DeviceAccesses - firstAccess, Stopwatch.GetTimestamp() - started);
    }
}
