using Microsoft.JSInterop;
using Vdi.Protocol;
using Vdi.WebClient.Display;

namespace Vdi.WebClient.Input;

/// <summary>
/// Receives the neutral input events <c>viewer.js</c> captures (DOM key code and key, pointer in
/// device pixels of the mode with the DOM button mask, the measured display) and hands them on as
/// protocol messages. It knows nothing about the connection.
/// </summary>
public sealed class InputBridge
{
    public event Func<KeyEvent, Task>? Key;

    public event Func<PointerEvent, Task>? Pointer;

    public event Func<MeasuredDisplay, Task>? DisplayChanged;

    [JSInvokable]
    public Task OnKey(string code, string key, bool down) =>
        Key?.Invoke(new KeyEvent(code, key, down)) ?? Task.CompletedTask;

    [JSInvokable]
    public Task OnPointer(double x, double y, int buttons, double wheelDeltaY) =>
        Pointer?.Invoke(new PointerEvent(x, y, buttons, wheelDeltaY)) ?? Task.CompletedTask;

    [JSInvokable]
    public Task OnDisplayChanged(int width, int height, double devicePixelRatio) =>
        DisplayChanged?.Invoke(new MeasuredDisplay(width, height, devicePixelRatio)) ?? Task.CompletedTask;
}
