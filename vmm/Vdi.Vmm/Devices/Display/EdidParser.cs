using System.Buffers.Binary;

namespace Vdi.Vmm.Devices.Display;

/// <summary>
/// Reads the fields of an EDID that matter to a display consumer (guest-facing tests, the admin
/// UI): identity, preferred mode, physical size and name, plus every checksum.
/// </summary>
/// <remarks>
/// Structural damage throws <see cref="FormatException"/>: shorter than a base block, a wrong
/// header, a length that is not whole blocks, fewer blocks than the base block declares, or a
/// DisplayID data block that overruns its section. Checksum failures do not throw; they are
/// reported per block so a caller can still show what a slightly broken EDID says. Blocks beyond
/// the declared extension count are ignored.
/// </remarks>
public static class EdidParser
{
    /// <summary>Whether <paramref name="edid"/> starts with the fixed 8-byte EDID header.</summary>
    public static bool HasValidHeader(ReadOnlySpan<byte> edid) =>
        edid.Length >= Edid.Header.Length && edid[..Edid.Header.Length].SequenceEqual(Edid.Header);

    /// <exception cref="FormatException">The EDID is truncated or its structure is damaged.</exception>
    public static EdidInfo Parse(ReadOnlySpan<byte> edid)
    {
        if (edid.Length < Edid.BlockSize)
            throw new FormatException($"EDID is {edid.Length} bytes; the base block alone is {Edid.BlockSize}.");
        if (!HasValidHeader(edid))
            throw new FormatException($"EDID header is {Convert.ToHexString(edid[..Edid.Header.Length])}; expected 00FFFFFFFFFFFF00.");
        if (edid.Length % Edid.BlockSize != 0)
            throw new FormatException($"EDID is {edid.Length} bytes, not a whole number of {Edid.BlockSize}-byte blocks.");
        var baseBlock = edid[..Edid.BlockSize];
        int extensionCount = baseBlock[Edid.ExtensionCountOffset];
        var extensionsPresent = (edid.Length / Edid.BlockSize) - 1;
        if (extensionCount > extensionsPresent)
            throw new FormatException($"EDID declares {extensionCount} extension block(s) but only {extensionsPresent} follow the base block; it is truncated.");

        var checksums = new bool[extensionCount + 1];
        checksums[0] = Edid.Sum(baseBlock) == 0;
        bool? displayIdChecksum = null;
        DisplayTiming? displayIdPreferred = null;
        for (var i = 1; i <= extensionCount; i++)
        {
            var block = edid.Slice(i * Edid.BlockSize, Edid.BlockSize);
            checksums[i] = Edid.Sum(block) == 0;
            if (block[0] == DisplayIdExtension.ExtensionTag)
            {
                var (sectionValid, preferred) = DisplayIdExtension.Read(block);
                displayIdChecksum = (displayIdChecksum ?? true) && sectionValid;
                displayIdPreferred ??= preferred;
            }
        }

        var baseTiming = ReadFirstTiming(baseBlock, out var imageWidthMm, out var imageHeightMm);
        var (widthMm, heightMm) = PhysicalSize(baseBlock, imageWidthMm, imageHeightMm);
        return new EdidInfo
        {
            BlockChecksumsValid = checksums,
            DisplayIdChecksumValid = displayIdChecksum,
            ManufacturerId = Edid.UnpackManufacturer(BinaryPrimitives.ReadUInt16BigEndian(baseBlock[Edid.ManufacturerOffset..])),
            ProductCode = BinaryPrimitives.ReadUInt16LittleEndian(baseBlock[Edid.ProductCodeOffset..]),
            SerialNumber = BinaryPrimitives.ReadUInt32LittleEndian(baseBlock[Edid.SerialOffset..]),
            EdidVersion = (baseBlock[Edid.VersionOffset], baseBlock[Edid.VersionOffset + 1]),
            ExtensionCount = extensionCount,
            BaseTiming = baseTiming,
            PreferredTiming = displayIdPreferred ?? baseTiming,
            PreferredFromDisplayId = displayIdPreferred is not null,
            WidthMm = widthMm,
            HeightMm = heightMm,
            MonitorName = ReadMonitorName(baseBlock),
        };
    }

    private static DisplayTiming? ReadFirstTiming(ReadOnlySpan<byte> baseBlock, out int widthMm, out int heightMm)
    {
        var descriptor = baseBlock.Slice(Edid.DescriptorOffset(0), DetailedTimingDescriptor.Size);
        if (!DetailedTimingDescriptor.TryRead(descriptor, out var timing, out widthMm, out heightMm))
            return null;
        // A timing with no pixels has no refresh rate; report no mode rather than infinity.
        return timing.HActive > 0 && timing.VActive > 0 ? timing : null;
    }

    private static (int? W, int? H) PhysicalSize(ReadOnlySpan<byte> baseBlock, int imageWidthMm, int imageHeightMm)
    {
        if (imageWidthMm > 0 && imageHeightMm > 0)
            return (imageWidthMm, imageHeightMm);
        int widthCm = baseBlock[Edid.ScreenSizeCmOffset], heightCm = baseBlock[Edid.ScreenSizeCmOffset + 1];
        return widthCm > 0 && heightCm > 0 ? (widthCm * 10, heightCm * 10) : (null, null);
    }

    private static string? ReadMonitorName(ReadOnlySpan<byte> baseBlock)
    {
        for (var i = 0; i < Edid.DescriptorCount; i++)
        {
            var d = baseBlock.Slice(Edid.DescriptorOffset(i), DetailedTimingDescriptor.Size);
            if (d[0] != 0 || d[1] != 0 || d[2] != 0 || d[3] != Edid.MonitorNameTag)
                continue;
            var text = d[5..];
            var end = text.IndexOf((byte)0x0A);
            if (end >= 0)
                text = text[..end];
            Span<char> chars = stackalloc char[text.Length];
            for (var c = 0; c < text.Length; c++)
                chars[c] = text[c] is >= 0x20 and < 0x7F ? (char)text[c] : '?';
            return new string(chars).TrimEnd(' ');
        }
        return null;
    }
}
