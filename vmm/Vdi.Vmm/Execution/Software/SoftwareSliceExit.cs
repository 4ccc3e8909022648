namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// Thrown by an <see cref="ISoftBus"/> from <c>ReadMemory</c>, <c>WriteMemory</c>, <c>PortIn</c> or <c>PortOut</c>
/// before any side effect: the access needs the other engine, and the instruction did not happen. <see cref="SoftCpu"/>
/// lets it propagate out of <c>Step</c>/<c>Run</c> with RIP, registers, flags and <c>InstructionsRetired</c> exactly as
/// they were before that instruction, so the other engine can run it from the start.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1710", Justification = "The name the engine-switch contract uses.")]
public sealed class SoftwareSliceExit : Exception
{
    public SoftwareSliceExit()
        : base("the access needs the other engine; the instruction did not happen")
    {
    }

    public SoftwareSliceExit(string message)
        : base(message)
    {
    }

    public SoftwareSliceExit(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
