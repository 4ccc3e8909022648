using System.Globalization;

namespace Vdi.Vmm.Execution;

/// <summary>
/// Chooses the engine for <see cref="EngineChoice.Auto"/> from measured figures, not from the presence of a device:
/// the engine that spends less time on the desktop workload (<see cref="EngineFigures.DesktopNanoseconds"/>) wins.
/// Where KVM runs guest code on hardware (VMX/SVM), its instructions cost a fraction of a nanosecond and an exit a
/// microsecond or two, so KVM wins by two orders of magnitude; where KVM emulates every guest instruction (a nested,
/// paravirtual KVM), the software engine wins by as much. A plain function of its inputs, so both outcomes are tested.
/// </summary>
public static class EnginePolicy
{
    /// <param name="kvm">KVM's figures, or null when KVM is unusable or its calibration failed.</param>
    /// <param name="software">The software engine's figures.</param>
    /// <param name="kvmUnavailable">Why there are no KVM figures (the one-line error), when <paramref name="kvm"/> is null.</param>
    public static EngineSelection Choose(EngineFigures? kvm, EngineFigures software, string? kvmUnavailable = null)
    {
        ArgumentNullException.ThrowIfNull(software);
        if (kvm is null)
            return new EngineSelection(ExecutionEngine.Software, $"no usable KVM: {kvmUnavailable ?? "not calibrated"} ({software})", null, software);

        var kvmCost = kvm.DesktopNanoseconds;
        var softwareCost = software.DesktopNanoseconds;
        var engine = kvmCost <= softwareCost ? ExecutionEngine.Kvm : ExecutionEngine.Software;
        var ratio = engine == ExecutionEngine.Kvm ? softwareCost / kvmCost : kvmCost / softwareCost;
        var winner = engine == ExecutionEngine.Kvm ? "KVM" : "the software engine";
        var reason = string.Create(
            CultureInfo.InvariantCulture,
            $"measured: {winner} is {ratio:F1}x faster for a desktop workload ({kvm}; {software})");
        return new EngineSelection(engine, reason, kvm, software);
    }
}
