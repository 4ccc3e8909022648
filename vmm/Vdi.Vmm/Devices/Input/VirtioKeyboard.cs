namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// A virtio keyboard: EV_KEY with the Linux key codes KEY_ESC (1) to KEY_MICMUTE (248), EV_REP
/// (the guest's input layer does autorepeat) and the three keyboard LEDs, which the driver reports
/// back on the statusq.
/// </summary>
public sealed class VirtioKeyboard : VirtioInputDevice
{
    public const string DeviceName = "Vdi Keyboard";

    public VirtioKeyboard(string serial = "vdi-keyboard-0", int pendingCapacity = DefaultPendingCapacity)
        : base(CreateCapabilities(serial), pendingCapacity)
    {
    }

    private static InputCapabilities CreateCapabilities(string serial)
    {
        var caps = new InputCapabilities(DeviceName, serial, new InputDeviceIds(Evdev.BusVirtual, VirtioInputIds.Vendor, VirtioInputIds.KeyboardProduct, 1));
        caps.AddEvents(Evdev.EvKey, Evdev.KeyEsc, Evdev.KeyMicMute);
        caps.AddEvents(Evdev.EvRep, Evdev.RepDelay, Evdev.RepPeriod);
        caps.AddEvents(Evdev.EvLed, Evdev.LedNumLock, Evdev.LedScrollLock);
        return caps;
    }

    /// <summary>
    /// Sends one key event and SYN_REPORT; true once the report is queued (it reaches the guest as
    /// soon as the driver has eventq buffers posted). Refused (false, counted in
    /// <see cref="VirtioInputDevice.RefusedInputs"/>) for a code outside 1..248 or an unknown
    /// action; false too when the report is dropped because the pending queue is full.
    /// </summary>
    public bool InjectKey(ushort code, KeyAction action) => Submit(() =>
    {
        if (!Capabilities.Supports(Evdev.EvKey, code) || !Enum.IsDefined(action))
        {
            CountRefused();
            return false;
        }
        return EnqueueLocked([new InputEvent(Evdev.EvKey, code, (int)action), InputEvent.SynReport]);
    });
}
