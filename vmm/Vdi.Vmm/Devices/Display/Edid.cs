namespace Vdi.Vmm.Devices.Display;

/// <summary>Offsets and helpers of the EDID 1.4 base block shared by the generator and the parser.</summary>
internal static class Edid
{
    public const int BlockSize = 128;

    public const int ManufacturerOffset = 8;
    public const int ProductCodeOffset = 10;
    public const int SerialOffset = 12;
    public const int VersionOffset = 18;
    public const int ScreenSizeCmOffset = 21;
    public const int FirstDescriptorOffset = 54;
    public const int DescriptorCount = 4;
    public const int ExtensionCountOffset = 126;

    /// <summary>Display descriptor tags (bytes 0-2 zero, byte 3 the tag).</summary>
    public const byte RangeLimitsTag = 0xFD, MonitorNameTag = 0xFC, DummyTag = 0x10;

    public static ReadOnlySpan<byte> Header => [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00];

    public static int DescriptorOffset(int index) => FirstDescriptorOffset + (index * DetailedTimingDescriptor.Size);

    public static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (var b in bytes)
            sum += b;
        return sum;
    }

    /// <summary>The byte that, appended to <paramref name="bytes"/>, makes the sum 0 mod 256.</summary>
    public static byte ChecksumFor(ReadOnlySpan<byte> bytes) => (byte)(0x100 - Sum(bytes));

    /// <summary>Packs three letters A-Z as 5-bit values (A = 1), big-endian, bit 15 clear.</summary>
    public static ushort PackManufacturer(string id)
    {
        if (id.Length != 3 || !id.All(char.IsAsciiLetterUpper))
            throw new ArgumentException("a manufacturer id is three letters A-Z", nameof(id));
        return (ushort)(((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@'));
    }

    /// <summary>Unpacks a manufacturer id; letters outside 1..26 come back as '?'.</summary>
    public static string UnpackManufacturer(ushort packed)
    {
        Span<char> letters = stackalloc char[3];
        for (var i = 0; i < 3; i++)
        {
            var v = (packed >> (10 - (5 * i))) & 0x1F;
            letters[i] = v is >= 1 and <= 26 ? (char)('@' + v) : '?';
        }
        return new string(letters);
    }
}
