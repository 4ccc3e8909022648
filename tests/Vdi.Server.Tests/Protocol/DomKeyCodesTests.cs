using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public class DomKeyCodesTests
{
    [Theory]
    [InlineData("KeyA", 30)]
    [InlineData("KeyQ", 16)]
    [InlineData("KeyZ", 44)]
    [InlineData("KeyM", 50)]
    [InlineData("Enter", 28)]
    [InlineData("Backspace", 14)]
    [InlineData("ShiftLeft", 42)]
    [InlineData("ShiftRight", 54)]
    [InlineData("ControlLeft", 29)]
    [InlineData("ControlRight", 97)]
    [InlineData("AltLeft", 56)]
    [InlineData("AltRight", 100)]
    [InlineData("MetaLeft", 125)]
    [InlineData("OSLeft", 125)]
    [InlineData("ArrowUp", 103)]
    [InlineData("ArrowDown", 108)]
    [InlineData("ArrowLeft", 105)]
    [InlineData("ArrowRight", 106)]
    [InlineData("F1", 59)]
    [InlineData("F10", 68)]
    [InlineData("F11", 87)]
    [InlineData("F12", 88)]
    [InlineData("Space", 57)]
    [InlineData("Digit1", 2)]
    [InlineData("Digit0", 11)]
    [InlineData("Escape", 1)]
    [InlineData("Tab", 15)]
    [InlineData("Delete", 111)]
    [InlineData("NumpadEnter", 96)]
    [InlineData("Numpad0", 82)]
    [InlineData("IntlBackslash", 86)]
    [InlineData("ContextMenu", 127)]
    public void Known_codes_map_to_evdev(string code, int evdev)
    {
        Assert.True(DomKeyCodes.TryGetEvdev(code, out var actual));
        Assert.Equal(evdev, actual);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("keya")]
    [InlineData("KEYA")]
    [InlineData("a")]
    [InlineData("Unidentified")]
    [InlineData("F25")]
    [InlineData("KeyA ")]
    public void Unknown_codes_are_refused(string? code)
    {
        Assert.False(DomKeyCodes.TryGetEvdev(code, out var evdev));
        Assert.Equal(0, evdev);
    }

    [Fact]
    public void Map_covers_a_full_keyboard_with_distinct_keys_except_legacy_aliases()
    {
        Assert.InRange(DomKeyCodes.All.Count, 100, 140);

        // Every letter, digit and F1..F12 is present.
        var required = Enumerable.Range('A', 26).Select(c => $"Key{(char)c}")
            .Concat(Enumerable.Range(0, 10).Select(d => $"Digit{d}"))
            .Concat(Enumerable.Range(1, 12).Select(f => $"F{f}"));
        Assert.All(required, code => Assert.True(DomKeyCodes.TryGetEvdev(code, out _), code));

        // Only the old Firefox names share a key with their standard name.
        string[] aliases = ["OSLeft", "OSRight", "VolumeMute", "VolumeDown", "VolumeUp"];
        var standard = DomKeyCodes.All.Where(kv => !aliases.Contains(kv.Key)).ToList();
        Assert.Equal(standard.Count, standard.Select(kv => kv.Value).Distinct().Count());

        // All are keyboard keys: KEY_ESC (1) .. KEY_MICMUTE (248), below the BTN_ range.
        Assert.All(DomKeyCodes.All.Values, evdev => Assert.InRange(evdev, (ushort)1, (ushort)248));
    }
}
