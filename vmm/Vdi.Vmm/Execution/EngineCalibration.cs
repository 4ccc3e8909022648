using System.Collections.Concurrent;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Execution;

/// <summary>
/// Measures the engines on this host once per process: <see cref="CalibrationGuest"/> runs on the software engine and,
/// where <c>/dev/kvm</c> opens, on KVM, each within <see cref="BudgetPerEngine"/> of guest time (plus building a small
/// machine), and <see cref="EnginePolicy"/> picks the faster for a desktop. <see cref="Select"/> caches the outcome
/// per KVM device, so only the first <see cref="EngineChoice.Auto"/> machine of a process pays for it.
/// </summary>
public static class EngineCalibration
{
    /// <summary>Guest time each engine's calibration may take; the whole calibration stays under ~100 ms.</summary>
    public static readonly TimeSpan BudgetPerEngine = TimeSpan.FromMilliseconds(20);

    /// <summary>The shortest block of a loop that a figure is taken from.</summary>
    public static TimeSpan TargetBlock => CalibrationPort.TargetBlock;

    /// <summary>However slow an engine is, its calibration machine is stopped after this.</summary>
    private static readonly TimeSpan s_hardLimit = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan s_warmUp = TimeSpan.FromMilliseconds(5);
    private static readonly Lazy<GuestImage> s_image = new(CalibrationGuest.Build);
    private static readonly ConcurrentDictionary<string, Lazy<EngineSelection>> s_selections = new();

    /// <summary>The engine <see cref="EngineChoice.Auto"/> runs on with this KVM device, measured on first use.</summary>
    public static EngineSelection Select(string? kvmDevicePath = null) =>
        s_selections.GetOrAdd(kvmDevicePath ?? KvmSystem.ConfiguredDevicePath, path => new Lazy<EngineSelection>(() => Calibrate(path))).Value;

    /// <summary>Measures both engines now (uncached) and chooses.</summary>
    public static EngineSelection Calibrate(string? kvmDevicePath = null)
    {
        // The first run pays for JIT compilation of the interpreter; a desktop runs for hours on compiled code.
        _ = Measure(EngineChoice.Software, budget: s_warmUp);
        var software = Measure(EngineChoice.Software);
        try
        {
            KvmSystem.Open(kvmDevicePath).Dispose();
        }
        catch (KvmException e)
        {
            return EnginePolicy.Choose(null, software, e.Message);
        }

        try
        {
            return EnginePolicy.Choose(Measure(EngineChoice.Kvm, kvmDevicePath), software);
        }
        catch (Exception e) when (e is KvmException or InvalidOperationException or ArgumentException)
        {
            return EnginePolicy.Choose(null, software, $"KVM opens but its calibration failed: {e.Message}");
        }
    }

    /// <summary>Runs the calibration guest on <paramref name="engine"/> (KVM or software) and returns its figures.</summary>
    public static EngineFigures Measure(EngineChoice engine, string? kvmDevicePath = null, TimeSpan? budget = null)
    {
        if (engine == EngineChoice.Auto)
            throw new ArgumentException("calibrate KVM or the software engine, not auto", nameof(engine));
        var port = new CalibrationPort(budget ?? BudgetPerEngine);
        using var machine = MachineBuilder.Build(new MachineConfig
        {
            Vcpus = 1,
            MemoryMiB = CalibrationGuest.MemoryMiB,
            Image = s_image.Value,
            Engine = engine,
            KvmDevicePath = kvmDevicePath,
            ExitStormSwitching = false, // the engine itself is measured, not KVM with software slices
        });
        machine.Devices.Pio.Register(PortMap.Calibration, PortMap.CalibrationLength, port);
        machine.Start();
        if (!machine.Completion.Wait(s_hardLimit))
        {
            machine.Stop();
            throw new InvalidOperationException($"the calibration guest did not finish within {s_hardLimit.TotalSeconds:F0} s on {engine}");
        }
        var exit = machine.Completion.Result;
        if (exit.Kind != MachineExitKind.PoweredOff || port.Results.Count != 3)
            throw new InvalidOperationException($"the calibration guest ended {exit.Kind} on {engine}: {exit.Crash?.Reason}");

        double PerSecond(CalibrationGuest.Workload loop)
        {
            var (iterations, seconds) = port.Results[loop];
            return iterations * CalibrationGuest.InstructionsPerIteration(loop) / Math.Max(seconds, 1e-9);
        }
        var (exits, exitSeconds) = port.Results[CalibrationGuest.Workload.Exits];
        return new EngineFigures(
            engine == EngineChoice.Kvm ? ExecutionEngine.Kvm : ExecutionEngine.Software,
            PerSecond(CalibrationGuest.Workload.Alu),
            PerSecond(CalibrationGuest.Workload.Memory),
            exitSeconds * 1e9 / Math.Max(exits, 1));
    }
}
