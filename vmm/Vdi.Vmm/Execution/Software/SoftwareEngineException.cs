namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The guest did something the software engine does not model (an instruction, an addressing form, code outside
/// RAM). It stops that machine with this message as the crash reason; it never reaches other machines.
/// </summary>
public sealed class SoftwareEngineException : NotSupportedException
{
    public SoftwareEngineException(string message)
        : base(message)
    {
    }

    public SoftwareEngineException()
    {
    }

    public SoftwareEngineException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
