using System.Diagnostics;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.Execution;

/// <summary>The real calibration on the real engines: figures that make sense, quickly, and the choice on this host.</summary>
public sealed class EngineCalibrationTests
{
    [Fact]
    public void The_software_engine_calibrates_in_well_under_a_second_with_sane_figures()
    {
        _ = EngineCalibration.Measure(EngineChoice.Software); // compiled once, as a long-running process would be
        var watch = Stopwatch.StartNew();
        var figures = EngineCalibration.Measure(EngineChoice.Software);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"calibration took {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(ExecutionEngine.Software, figures.Engine);
        Assert.InRange(figures.AluInstructionsPerSecond, 1e5, 1e11);
        Assert.InRange(figures.MemoryInstructionsPerSecond, 1e5, 1e11);
        Assert.InRange(figures.ExitNanoseconds, 1, 1e7);
    }

    [Fact]
    public void Without_kvm_calibration_chooses_the_software_engine_naming_the_device()
    {
        var selection = EngineCalibration.Calibrate("/nonexistent/kvm");
        Assert.Equal(ExecutionEngine.Software, selection.Engine);
        Assert.Null(selection.Kvm);
        Assert.NotNull(selection.Software);
        Assert.Contains("/nonexistent/kvm", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_asks_the_calibration_once_per_device_and_every_machine_reports_it()
    {
        var first = EngineCalibration.Select("/nonexistent/kvm-auto");
        Assert.Same(first, EngineCalibration.Select("/nonexistent/kvm-auto"));
        using var machine = MachineBuilder.Build(new MachineConfig
        {
            Image = Guests.TestGuests.PowerOff(0),
            MemoryMiB = 8,
            Engine = EngineChoice.Auto,
            KvmDevicePath = "/nonexistent/kvm-auto",
        });
        Assert.Same(first, machine.Engine);
    }
}

/// <summary>The calibration on KVM: both engines measured and one chosen, whichever wins on this host.</summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class KvmEngineCalibrationTests
{
    [Fact]
    public void Kvm_calibrates_with_sane_figures_and_auto_chooses_with_both_measured()
    {
        var figures = EngineCalibration.Measure(EngineChoice.Kvm);
        Assert.Equal(ExecutionEngine.Kvm, figures.Engine);
        Assert.InRange(figures.AluInstructionsPerSecond, 1e4, 1e11);
        Assert.InRange(figures.ExitNanoseconds, 1, 1e8);

        var selection = EngineCalibration.Calibrate();
        Assert.NotNull(selection.Kvm);
        Assert.NotNull(selection.Software);
        Assert.StartsWith("measured: ", selection.Reason, StringComparison.Ordinal);
        var faster = selection.Kvm!.DesktopNanoseconds <= selection.Software!.DesktopNanoseconds ? ExecutionEngine.Kvm : ExecutionEngine.Software;
        Assert.Equal(faster, selection.Engine);
    }
}
