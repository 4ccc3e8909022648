namespace Vdi.Vmm.Guest;

/// <summary>Boot-progress marker values the built-in guest writes to the power/debug port.</summary>
public static class BootMarkers
{
    public const byte Entered = 1;
    public const byte AllVcpusOnline = 2;
    public const byte CounterDone = 3;
    public const byte Idle = 4;
}
