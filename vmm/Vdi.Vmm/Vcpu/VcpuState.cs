namespace Vdi.Vmm.Vcpu;

/// <summary>The life of a vCPU thread: Created → Running ⇄ Paused → Stopped.</summary>
public enum VcpuState
{
    Created,
    Running,
    Paused,
    Stopped,
}
