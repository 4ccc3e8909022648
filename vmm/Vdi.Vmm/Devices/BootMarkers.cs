namespace Vdi.Vmm.Devices;

/// <summary>
/// Boot-progress marker values guests write to the power/debug port (<see cref="PortMap.BootMarker"/>); the VMM takes
/// <see cref="Idle"/> as a desktop having booted.
/// </summary>
public static class BootMarkers
{
    public const byte Entered = 1;
    public const byte AllVcpusOnline = 2;
    public const byte CounterDone = 3;
    public const byte Idle = 4;
}
