namespace Vdi.Vmm.Devices.Input;

/// <summary>The buttons of an absolute pointer that are held down.</summary>
[Flags]
public enum PointerButtons
{
    None = 0,
    Left = 1,
    Right = 2,
    Middle = 4,
}
