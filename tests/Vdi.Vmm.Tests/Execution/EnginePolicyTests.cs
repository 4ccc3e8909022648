using Vdi.Vmm.Execution;

namespace Vdi.Vmm.Tests.Execution;

/// <summary>The choice <c>auto</c> makes from measured figures: both ways, and why, with the figures.</summary>
public sealed class EnginePolicyTests
{
    // As measured on a nested, paravirtual KVM that emulates every guest instruction, and on real VMX hardware.
    private static readonly EngineFigures s_emulatingKvm = new(ExecutionEngine.Kvm, 1.4e6, 1.2e6, 7_100);
    private static readonly EngineFigures s_hardwareKvm = new(ExecutionEngine.Kvm, 3.0e9, 2.5e9, 1_500);
    private static readonly EngineFigures s_software = new(ExecutionEngine.Software, 100e6, 80e6, 400);

    [Fact]
    public void A_host_whose_kvm_emulates_runs_desktops_on_the_software_engine_and_says_why_with_both_figures()
    {
        var selection = EnginePolicy.Choose(s_emulatingKvm, s_software);
        Assert.Equal(ExecutionEngine.Software, selection.Engine);
        Assert.StartsWith("measured: the software engine is ", selection.Reason, StringComparison.Ordinal);
        Assert.Contains("KVM: ALU 1.4 M instr/s, memory 1.2 M instr/s, 7.1 µs/exit", selection.Reason, StringComparison.Ordinal);
        Assert.Contains("software: ALU 100.0 M instr/s, memory 80.0 M instr/s, 400 ns/exit", selection.Reason, StringComparison.Ordinal);
        Assert.Same(s_emulatingKvm, selection.Kvm);
        Assert.Same(s_software, selection.Software);
    }

    [Fact]
    public void A_host_with_hardware_assisted_kvm_runs_desktops_on_kvm()
    {
        var selection = EnginePolicy.Choose(s_hardwareKvm, s_software);
        Assert.Equal(ExecutionEngine.Kvm, selection.Engine);
        Assert.StartsWith("measured: KVM is ", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Exits_count_too_a_kvm_with_fast_instructions_but_ruinous_exits_loses()
    {
        var slowExits = new EngineFigures(ExecutionEngine.Kvm, 3.0e9, 2.5e9, 200_000);
        Assert.Equal(ExecutionEngine.Software, EnginePolicy.Choose(slowExits, s_software).Engine);
    }

    [Fact]
    public void Without_kvm_figures_the_software_engine_runs_and_the_reason_is_the_device_error()
    {
        var selection = EnginePolicy.Choose(null, s_software, "cannot open /dev/kvm: No such file or directory");
        Assert.Equal(ExecutionEngine.Software, selection.Engine);
        Assert.Equal("no usable KVM: cannot open /dev/kvm: No such file or directory (software: ALU 100.0 M instr/s, memory 80.0 M instr/s, 400 ns/exit)", selection.Reason);
    }

    [Fact]
    public void The_desktop_workload_weighs_instructions_and_exits()
    {
        // 500 ALU + 500 memory instructions and one exit.
        var figures = new EngineFigures(ExecutionEngine.Software, 1e9, 0.5e9, 100);
        Assert.Equal(500 + 1000 + 100, figures.DesktopNanoseconds, 6);
    }
}
