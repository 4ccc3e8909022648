namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// The Linux evdev event types and codes (include/uapi/linux/input-event-codes.h) that the
/// virtio-input devices use; virtio-input carries them unchanged. The C name of each is in its comment.
/// </summary>
public static class Evdev
{
    // Event types.
    public const ushort EvSyn = 0x00;  // EV_SYN
    public const ushort EvKey = 0x01;  // EV_KEY
    public const ushort EvRel = 0x02;  // EV_REL
    public const ushort EvAbs = 0x03;  // EV_ABS
    public const ushort EvLed = 0x11;  // EV_LED
    public const ushort EvRep = 0x14;  // EV_REP

    // EV_SYN codes.
    public const ushort SynReport = 0; // SYN_REPORT

    // EV_KEY codes.
    public const ushort KeyEsc = 1;          // KEY_ESC, the first keyboard key
    public const ushort KeyEnter = 28;       // KEY_ENTER
    public const ushort KeyA = 30;           // KEY_A
    public const ushort KeyLeftShift = 42;   // KEY_LEFTSHIFT
    public const ushort KeyMicMute = 248;    // KEY_MICMUTE, the last keyboard key
    public const ushort BtnLeft = 0x110;     // BTN_LEFT
    public const ushort BtnRight = 0x111;    // BTN_RIGHT
    public const ushort BtnMiddle = 0x112;   // BTN_MIDDLE

    // EV_REL codes.
    public const ushort RelWheel = 0x08; // REL_WHEEL

    // EV_ABS codes.
    public const ushort AbsX = 0x00; // ABS_X
    public const ushort AbsY = 0x01; // ABS_Y

    // EV_LED codes.
    public const ushort LedNumLock = 0x00;    // LED_NUML
    public const ushort LedCapsLock = 0x01;   // LED_CAPSL
    public const ushort LedScrollLock = 0x02; // LED_SCROLLL

    // EV_REP codes.
    public const ushort RepDelay = 0x00;  // REP_DELAY
    public const ushort RepPeriod = 0x01; // REP_PERIOD

    // Key values.
    public const int KeyReleased = 0;
    public const int KeyPressed = 1;
    public const int KeyRepeated = 2;

    /// <summary>BUS_VIRTUAL, the bus type of ID_DEVIDS.</summary>
    public const ushort BusVirtual = 0x06;
}
