namespace Vdi.Vmm.Devices.Input;

/// <summary>
/// Text to evdev key strokes for a US keyboard layout: which key to press for a character and
/// whether Shift is held. Used to type text into a guest (the runner's --type, scripted input).
/// </summary>
public static class UsKeyboardLayout
{
    private static readonly Dictionary<char, (ushort Code, bool Shift)> s_keys = Build();

    /// <summary>The key (and Shift) that types <paramref name="c"/>; false for characters the layout has no key for.</summary>
    public static bool TryMap(char c, out ushort code, out bool shift)
    {
        if (s_keys.TryGetValue(c, out var key))
        {
            (code, shift) = key;
            return true;
        }
        (code, shift) = (0, false);
        return false;
    }

    /// <summary>Types <paramref name="text"/>: press and release per character, Shift around shifted ones. Returns the characters it could not type.</summary>
    public static string Type(VirtioKeyboard keyboard, string text)
    {
        ArgumentNullException.ThrowIfNull(keyboard);
        ArgumentNullException.ThrowIfNull(text);
        var skipped = new System.Text.StringBuilder();
        foreach (var c in text)
        {
            if (!TryMap(c, out var code, out var shift))
            {
                skipped.Append(c);
                continue;
            }
            if (shift)
                keyboard.InjectKey(Evdev.KeyLeftShift, KeyAction.Press);
            keyboard.InjectKey(code, KeyAction.Press);
            keyboard.InjectKey(code, KeyAction.Release);
            if (shift)
                keyboard.InjectKey(Evdev.KeyLeftShift, KeyAction.Release);
        }
        return skipped.ToString();
    }

    private static Dictionary<char, (ushort, bool)> Build()
    {
        var map = new Dictionary<char, (ushort, bool)>();
        // Rows of the US layout with their first evdev code: unshifted and shifted characters.
        Row(2, "1234567890-=", "!@#$%^&*()_+");
        Row(16, "qwertyuiop[]", "QWERTYUIOP{}");
        Row(30, "asdfghjkl;'`", "ASDFGHJKL:\"~");
        Row(43, "\\zxcvbnm,./", "|ZXCVBNM<>?");
        map[' '] = (57, false);
        map['\n'] = (Evdev.KeyEnter, false);
        map['\t'] = (15, false);
        map['\b'] = (14, false);
        return map;

        void Row(ushort first, string plain, string shifted)
        {
            for (var i = 0; i < plain.Length; i++)
            {
                map[plain[i]] = ((ushort)(first + i), false);
                map[shifted[i]] = ((ushort)(first + i), true);
            }
        }
    }
}
