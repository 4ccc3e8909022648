namespace Vdi.Vmm.Devices.Input;

/// <summary>What happened to a key; the value is the EV_KEY event value.</summary>
public enum KeyAction
{
    Release = Evdev.KeyReleased,
    Press = Evdev.KeyPressed,
    Repeat = Evdev.KeyRepeated,
}
