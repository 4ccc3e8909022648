namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// A virtio tablet: an absolute pointer in display pixels (ABS_X/ABS_Y from 0 to the scanout
/// size minus one), left/right/middle buttons and a wheel. No INPUT_PROP_DIRECT: the guest treats
/// it as a pointer with absolute positioning (like QEMU's tablet), not a touchscreen.
/// </summary>
public sealed class VirtioTablet : VirtioInputDevice
{
    public const string DeviceName = "Vdi Tablet";
    public const int DefaultWidth = 1024, DefaultHeight = 768;

    /// <summary>evdev's axis values are 32-bit, but keep extents to what a display can be.</summary>
    public const int MaxExtent = 1 << 16;

    private static readonly (PointerButtons Button, ushort Code)[] s_buttons =
    [
        (PointerButtons.Left, Evdev.BtnLeft),
        (PointerButtons.Right, Evdev.BtnRight),
        (PointerButtons.Middle, Evdev.BtnMiddle),
    ];


    public VirtioTablet(string serial = "vdi-tablet-0", int pendingCapacity = DefaultPendingCapacity)
        : base(CreateCapabilities(serial), pendingCapacity)
    {
    }

    private static InputCapabilities CreateCapabilities(string serial)
    {
        var caps = new InputCapabilities(DeviceName, serial, new InputDeviceIds(Evdev.BusVirtual, VirtioInputIds.Vendor, VirtioInputIds.TabletProduct, 1));
        caps.AddEvents(Evdev.EvKey, Evdev.BtnLeft, Evdev.BtnMiddle);
        caps.AddEvent(Evdev.EvRel, Evdev.RelWheel);
        caps.SetAbsInfo(Evdev.AbsX, new InputAbsInfo(0, DefaultWidth - 1));
        caps.SetAbsInfo(Evdev.AbsY, new InputAbsInfo(0, DefaultHeight - 1));
        return caps;
    }

    /// <summary>The current pointer area in pixels.</summary>
    public (int Width, int Height) Extent => Locked(() => (MaxX + 1, MaxY + 1));

    /// <summary>The extent the tablet reports (it follows the scanout).</summary>
    protected override void SaveDevice(State.SectionWriter section) => section.U64("width", (ulong)(MaxX + 1)).U64("height", (ulong)(MaxY + 1));

    protected override Action RestoreDevice(State.SavedSection section)
    {
        var (width, height) = ((int)section.U64("width", 1, MaxExtent), (int)section.U64("height", 1, MaxExtent));
        return () =>
        {
            Capabilities.SetAbsInfo(Evdev.AbsX, new InputAbsInfo(0, width - 1));
            Capabilities.SetAbsInfo(Evdev.AbsY, new InputAbsInfo(0, height - 1));
        };
    }

    private int MaxX => Capabilities.GetAbsInfo(Evdev.AbsX)!.Value.Max;

    private int MaxY => Capabilities.GetAbsInfo(Evdev.AbsY)!.Value.Max;

    /// <summary>
    /// Follows the scanout size: ABS_X/ABS_Y become 0..width-1 / 0..height-1 and, when that is a
    /// change, the configuration generation is bumped with a configuration-change interrupt.
    /// (Linux reads the ranges once, at probe; a driver that rereads sees the new ones.)
    /// </summary>
    public void SetExtent(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, MaxExtent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, MaxExtent);
        Host.Guard(() =>
        {
            if (MaxX == width - 1 && MaxY == height - 1)
                return;
            Capabilities.SetAbsInfo(Evdev.AbsX, new InputAbsInfo(0, width - 1));
            Capabilities.SetAbsInfo(Evdev.AbsY, new InputAbsInfo(0, height - 1));
            Host.SignalConfigChange();
        });
    }

    /// <summary>
    /// Sends ABS_X, ABS_Y, a key event per button that changed, REL_WHEEL when
    /// <paramref name="wheel"/> is non-zero (positive: away from the user), then SYN_REPORT.
    /// Out-of-range coordinates are clamped to the extent and unknown button bits ignored; either
    /// counts once in <see cref="VirtioInputDevice.ClampedInputs"/>. Motion alone, while the
    /// newest waiting report is motion alone, moves that report instead of queuing another. True once
    /// queued; false when the pending queue is full and the report is dropped (its buttons are then set
    /// as the host last said as soon as there is room).
    /// </summary>
    public bool InjectPointer(int x, int y, PointerButtons buttons, int wheel = 0) => Submit(() =>
    {
        var known = buttons & (PointerButtons.Left | PointerButtons.Right | PointerButtons.Middle);
        var cx = Math.Clamp(x, 0, MaxX);
        var cy = Math.Clamp(y, 0, MaxY);
        if (cx != x || cy != y || known != buttons)
            CountClamped();
        var queued = PointerButtons.None;
        foreach (var (button, code) in s_buttons)
        {
            if (IsQueuedPressedLocked(code))
                queued |= button;
        }
        if (known == queued && wheel == 0 && TryCoalesceMotionLocked(cx, cy))
            return true; // motion only, behind motion the guest has not read: the latest position wins
        Span<InputEvent> report = stackalloc InputEvent[7];
        var n = 0;
        report[n++] = new InputEvent(Evdev.EvAbs, Evdev.AbsX, cx);
        report[n++] = new InputEvent(Evdev.EvAbs, Evdev.AbsY, cy);
        foreach (var (button, code) in s_buttons)
        {
            if (((known ^ queued) & button) != 0)
                report[n++] = new InputEvent(Evdev.EvKey, code, (known & button) != 0 ? Evdev.KeyPressed : Evdev.KeyReleased);
        }
        if (wheel != 0)
            report[n++] = new InputEvent(Evdev.EvRel, Evdev.RelWheel, wheel);
        report[n++] = InputEvent.SynReport;
        return EnqueueLocked(report[..n]);
    });
}
