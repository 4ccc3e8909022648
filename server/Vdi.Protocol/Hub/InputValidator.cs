namespace Vdi.Protocol;

/// <summary>
/// Checks input messages before they reach the guest's devices. Each check returns false for a
/// message to drop; input arrives many times a second, so the server counts drops instead of
/// answering each one.
/// </summary>
public static class InputValidator
{
    /// <summary>The longest <see cref="KeyEvent.Key"/> accepted; DOM key names are at most ~30 characters.</summary>
    public const int MaxKeyLength = 64;

    /// <summary>The buttons DOM pointer events report: primary, secondary, middle, back, forward.</summary>
    public const int ButtonsMask = 0b1_1111;

    /// <summary>The largest wheel movement accepted in one event, in pixels.</summary>
    public const double MaxWheelDelta = 10_000;

    /// <summary>
    /// True when <paramref name="keyEvent"/>'s code is a known DOM code (<see cref="DomKeyCodes"/>);
    /// <paramref name="evdev"/> is then the key to press or release.
    /// </summary>
    public static bool TryValidateKey(KeyEvent? keyEvent, out ushort evdev)
    {
        evdev = 0;
        if (keyEvent is null || keyEvent.Key is null || keyEvent.Key.Length > MaxKeyLength)
            return false;
        return DomKeyCodes.TryGetEvdev(keyEvent.Code, out evdev);
    }

    /// <summary>
    /// True when the pointer is on the screen of the current mode: x in [0, width), y in [0, height),
    /// both finite; buttons within the five DOM buttons; a finite wheel delta of sane size.
    /// </summary>
    public static bool IsValidPointer(PointerEvent? pointerEvent, int modeWidth, int modeHeight)
    {
        if (pointerEvent is null)
            return false;
        return double.IsFinite(pointerEvent.X) && pointerEvent.X >= 0 && pointerEvent.X < modeWidth
            && double.IsFinite(pointerEvent.Y) && pointerEvent.Y >= 0 && pointerEvent.Y < modeHeight
            && (pointerEvent.Buttons & ~ButtonsMask) == 0
            && double.IsFinite(pointerEvent.WheelDeltaY) && Math.Abs(pointerEvent.WheelDeltaY) <= MaxWheelDelta;
    }
}
