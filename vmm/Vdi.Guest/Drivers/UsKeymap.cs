namespace Vdi.Guest.Drivers;

/// <summary>
/// A US keyboard layout for Linux key codes 0–127: two tables of 128 bytes (unshifted, then shifted), each entry the
/// ASCII character the key types, <c>\n</c> for Enter, 8 for Backspace, or 0 when it types nothing.
/// </summary>
internal static class UsKeymap
{
    public const int Codes = 128;
    public const ushort KeyBackspace = 14;
    public const ushort KeyEnter = 28;
    public const ushort KeyLeftShift = 42;
    public const ushort KeyRightShift = 54;
    public const ushort KeySpace = 57;

    // Rows of the keyboard from their first key code: digits row at 2, QWERTY at 16, home row at 30, bottom at 44.
    private static readonly (int First, string Plain, string Shifted)[] s_rows =
    [
        (2, "1234567890-=", "!@#$%^&*()_+"),
        (16, "qwertyuiop[]", "QWERTYUIOP{}"),
        (30, "asdfghjkl;'`", "ASDFGHJKL:\"~"),
        (43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
    ];

    public static byte[] Build()
    {
        var table = new byte[Codes * 2];
        foreach (var (first, plain, shifted) in s_rows)
        {
            for (var i = 0; i < plain.Length; i++)
            {
                table[first + i] = (byte)plain[i];
                table[Codes + first + i] = (byte)shifted[i];
            }
        }
        foreach (var offset in (int[])[0, Codes])
        {
            table[offset + KeySpace] = (byte)' ';
            table[offset + KeyEnter] = (byte)'\n';
            table[offset + KeyBackspace] = 8;
        }
        return table;
    }
}
