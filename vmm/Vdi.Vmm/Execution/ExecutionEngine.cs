namespace Vdi.Vmm.Execution;

/// <summary>What runs a machine's guest code.</summary>
public enum ExecutionEngine
{
    /// <summary>Hardware-assisted: the vCPUs run in KVM (<c>/dev/kvm</c>).</summary>
    Kvm,

    /// <summary>The VMM's own x86-64 interpreter (<see cref="Software.SoftCpu"/>): needs no KVM.</summary>
    Software,
}

/// <summary>Which engine a <see cref="Machine.MachineConfig"/> asks for.</summary>
public enum EngineChoice
{
    /// <summary>
    /// The engine measured to be faster on this host (<see cref="EngineCalibration"/>, <see cref="EnginePolicy"/>); the
    /// software engine where KVM is unusable, saying why.
    /// </summary>
    Auto,

    /// <summary>KVM or nothing: a machine that can't have KVM fails to build with the reason.</summary>
    Kvm,

    /// <summary>The software engine, even where KVM is available.</summary>
    Software,
}

/// <summary>The engine a machine runs on and why that one (for logs, the dashboard and the runner), with the figures the choice was made from.</summary>
public sealed record EngineSelection(ExecutionEngine Engine, string Reason, EngineFigures? Kvm = null, EngineFigures? Software = null)
{
    /// <summary>"KVM" or "the software engine", for sentences such as "running on …".</summary>
    public string Subject => Engine == ExecutionEngine.Kvm ? "KVM" : "the software engine";

    public override string ToString() => $"{(Engine == ExecutionEngine.Kvm ? "KVM" : "software engine")} ({Reason})";
}
