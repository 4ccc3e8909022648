namespace Vdi.Protocol;

/// <summary>Client → server: the pointer moved, a button changed or the wheel turned.</summary>
/// <param name="X">Horizontal position in device pixels of the canvas, which matches the current mode.</param>
/// <param name="Y">Vertical position in device pixels of the canvas.</param>
/// <param name="Buttons">The DOM <c>PointerEvent.buttons</c> mask: 1 primary, 2 secondary, 4 middle, 8 back, 16 forward.</param>
/// <param name="WheelDeltaY">Vertical wheel movement in pixels (DOM <c>deltaMode</c> 0); positive scrolls down, 0 for none.</param>
public sealed record PointerEvent(double X, double Y, int Buttons, double WheelDeltaY = 0);
