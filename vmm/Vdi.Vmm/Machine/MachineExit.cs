using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Machine;

public enum MachineState
{
    Created,
    Running,
    Paused,
    PoweredOff,
    Stopped,
    Crashed,
}

public enum MachineExitKind
{
    /// <summary>The guest powered off; <see cref="MachineExit.ExitCode"/> is its code.</summary>
    PoweredOff,

    /// <summary>The host stopped the machine.</summary>
    Stopped,

    /// <summary>A vCPU could not continue; <see cref="MachineExit.Crash"/> says which and why.</summary>
    Crashed,
}

/// <summary>A vCPU crash report: reason and registers at the moment it stopped.</summary>
public sealed record MachineCrash(int VcpuId, string Reason, VcpuRegisters? Registers, VcpuSpecialRegisters? SpecialRegisters)
{
    public override string ToString() =>
        $"vcpu {VcpuId} crashed: {Reason}" +
        (Registers is { } r ? $"\n{r}" : "") +
        (SpecialRegisters is { } s ? $"\n{s}" : "");
}

public sealed record MachineExit(MachineExitKind Kind, int ExitCode, MachineCrash? Crash);
