using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;

namespace Vdi.Protocol;

/// <summary>
/// DOM <c>KeyboardEvent.code</c> values (UI Events KeyboardEvent code values, which name the key's
/// position on a US keyboard) to Linux evdev key codes (include/uapi/linux/input-event-codes.h).
/// The code names the physical key, so the guest applies its own layout; <c>KeyboardEvent.key</c>
/// is not used for mapping. Codes are case-sensitive, as in the DOM.
/// </summary>
public static class DomKeyCodes
{
    private static readonly FrozenDictionary<string, ushort> s_evdev = new Dictionary<string, ushort>
    {
        // Writing system keys, row by row. KEY_1..KEY_0 = 2..11, KEY_Q..KEY_P = 16..25, and so on.
        ["Escape"] = 1, // KEY_ESC
        ["Digit1"] = 2, ["Digit2"] = 3, ["Digit3"] = 4, ["Digit4"] = 5, ["Digit5"] = 6,
        ["Digit6"] = 7, ["Digit7"] = 8, ["Digit8"] = 9, ["Digit9"] = 10, ["Digit0"] = 11,
        ["Minus"] = 12, ["Equal"] = 13, ["Backspace"] = 14, ["Tab"] = 15,
        ["KeyQ"] = 16, ["KeyW"] = 17, ["KeyE"] = 18, ["KeyR"] = 19, ["KeyT"] = 20,
        ["KeyY"] = 21, ["KeyU"] = 22, ["KeyI"] = 23, ["KeyO"] = 24, ["KeyP"] = 25,
        ["BracketLeft"] = 26, ["BracketRight"] = 27, ["Enter"] = 28, ["ControlLeft"] = 29,
        ["KeyA"] = 30, ["KeyS"] = 31, ["KeyD"] = 32, ["KeyF"] = 33, ["KeyG"] = 34,
        ["KeyH"] = 35, ["KeyJ"] = 36, ["KeyK"] = 37, ["KeyL"] = 38,
        ["Semicolon"] = 39, ["Quote"] = 40, ["Backquote"] = 41, ["ShiftLeft"] = 42, ["Backslash"] = 43,
        ["KeyZ"] = 44, ["KeyX"] = 45, ["KeyC"] = 46, ["KeyV"] = 47, ["KeyB"] = 48,
        ["KeyN"] = 49, ["KeyM"] = 50,
        ["Comma"] = 51, ["Period"] = 52, ["Slash"] = 53, ["ShiftRight"] = 54,
        ["NumpadMultiply"] = 55, // KEY_KPASTERISK
        ["AltLeft"] = 56, ["Space"] = 57, ["CapsLock"] = 58,

        // Function keys: KEY_F1..KEY_F10 = 59..68, KEY_F11/F12 = 87/88, KEY_F13..KEY_F24 = 183..194.
        ["F1"] = 59, ["F2"] = 60, ["F3"] = 61, ["F4"] = 62, ["F5"] = 63, ["F6"] = 64,
        ["F7"] = 65, ["F8"] = 66, ["F9"] = 67, ["F10"] = 68, ["F11"] = 87, ["F12"] = 88,
        ["F13"] = 183, ["F14"] = 184, ["F15"] = 185, ["F16"] = 186, ["F17"] = 187, ["F18"] = 188,
        ["F19"] = 189, ["F20"] = 190, ["F21"] = 191, ["F22"] = 192, ["F23"] = 193, ["F24"] = 194,

        // Numpad: KEY_NUMLOCK 69, KEY_SCROLLLOCK 70, then KEY_KP7.. in keypad order.
        ["NumLock"] = 69, ["ScrollLock"] = 70,
        ["Numpad7"] = 71, ["Numpad8"] = 72, ["Numpad9"] = 73, ["NumpadSubtract"] = 74,
        ["Numpad4"] = 75, ["Numpad5"] = 76, ["Numpad6"] = 77, ["NumpadAdd"] = 78,
        ["Numpad1"] = 79, ["Numpad2"] = 80, ["Numpad3"] = 81, ["Numpad0"] = 82, ["NumpadDecimal"] = 83,
        ["NumpadEnter"] = 96, ["NumpadDivide"] = 98, ["NumpadEqual"] = 117, ["NumpadComma"] = 121,

        // International keys.
        ["IntlBackslash"] = 86, // KEY_102ND, the extra key left of Z on ISO keyboards
        ["IntlRo"] = 89,        // KEY_RO
        ["IntlYen"] = 124,      // KEY_YEN
        ["Lang1"] = 122,        // KEY_HANGEUL
        ["Lang2"] = 123,        // KEY_HANJA

        // Modifiers and control pad.
        ["ControlRight"] = 97,
        ["PrintScreen"] = 99, // KEY_SYSRQ
        ["AltRight"] = 100,
        ["Home"] = 102, ["ArrowUp"] = 103, ["PageUp"] = 104, ["ArrowLeft"] = 105, ["ArrowRight"] = 106,
        ["End"] = 107, ["ArrowDown"] = 108, ["PageDown"] = 109, ["Insert"] = 110, ["Delete"] = 111,
        ["Pause"] = 119,
        ["MetaLeft"] = 125, ["MetaRight"] = 126,
        ["OSLeft"] = 125, ["OSRight"] = 126, // Firefox before 118 named the Meta keys OS
        ["ContextMenu"] = 127,                // KEY_COMPOSE

        // Media keys found on laptops; the older Volume* names are Firefox's.
        ["AudioVolumeMute"] = 113, ["AudioVolumeDown"] = 114, ["AudioVolumeUp"] = 115,
        ["VolumeMute"] = 113, ["VolumeDown"] = 114, ["VolumeUp"] = 115,
        ["Power"] = 116,
        ["MediaTrackNext"] = 163, ["MediaPlayPause"] = 164, ["MediaTrackPrevious"] = 165, ["MediaStop"] = 166,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Every known DOM code with its evdev key code.</summary>
    public static IReadOnlyDictionary<string, ushort> All => s_evdev;

    /// <summary>The evdev key code for a DOM <c>KeyboardEvent.code</c>; false for unknown or null codes.</summary>
    public static bool TryGetEvdev([NotNullWhen(true)] string? code, out ushort evdev)
    {
        if (code is null)
        {
            evdev = 0;
            return false;
        }
        return s_evdev.TryGetValue(code, out evdev);
    }
}
