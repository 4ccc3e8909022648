using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Tests.Devices.Display;

/// <summary>Bytes checked by hand against the EDID 1.4 and DisplayID 2.0 layouts.</summary>
public sealed class EdidKnownVectorTests
{
    private readonly byte[] _fullHd = EdidGenerator.Generate(new DisplayProperties(1920, 1080, 96, 60));

    [Fact]
    public void HeaderIdentityAndVersion()
    {
        Assert.Equal(128, _fullHd.Length);
        Assert.Equal(Hex("00FFFFFFFFFFFF00"), _fullHd[0..8]);
        // "VDI": V=22, D=4, I=9 -> 0 10110 00100 01001 = 0x5889, big-endian.
        Assert.Equal(Hex("5889"), _fullHd[8..10]);
        Assert.Equal(Hex("0100"), _fullHd[10..12]); // product code 1, little-endian
        Assert.Equal(Hex("01000000"), _fullHd[12..16]); // serial 1
        Assert.Equal(Hex("0023"), _fullHd[16..18]); // week unspecified, 2025
        Assert.Equal(Hex("0104"), _fullHd[18..20]); // EDID 1.4
    }

    [Fact]
    public void BasicParametersAndColour()
    {
        Assert.Equal(0xA0, _fullHd[20]); // digital, 8 bpc
        Assert.Equal(Hex("331D"), _fullHd[21..23]); // 51 x 29 cm (508 x 286 mm)
        Assert.Equal(120, _fullHd[23]); // gamma 2.2
        Assert.Equal(0x06, _fullHd[24]); // sRGB, preferred timing is native
        Assert.Equal(Hex("EE91A3544C99260F5054"), _fullHd[25..35]); // sRGB primaries, D65
        Assert.Equal(Hex("000000"), _fullHd[35..38]);
        Assert.Equal(Hex("01010101010101010101010101010101"), _fullHd[38..54]);
    }

    [Fact]
    public void DetailedTimingIsCvtReducedBlanking()
    {
        // 2080 x 1111 total at 60 Hz = 138.6528 MHz, floored to 138.65 (13865 = 0x3629).
        // H: 1920 active (0x780), 160 blank (0x0A0); V: 1080 (0x438), 31 blank (0x01F);
        // H front porch 48, sync 32; V front porch 3, sync 5 (16:9); 508 x 286 mm (0x1FC x 0x11E).
        Assert.Equal(Hex("2936" + "80A070" + "381F40" + "3020" + "3500" + "FC1E11" + "0000" + "1A"), _fullHd[54..72]);
        Assert.Equal(0x80, _fullHd[56]); // active width low byte
    }

    [Fact]
    public void DisplayDescriptors()
    {
        // Range limits only: 59-60 Hz, 66-67 kHz, 140 MHz.
        Assert.Equal(Hex("000000FD00" + "3B3C42430E" + "01" + "0A202020202020"), _fullHd[72..90]);
        Assert.Equal(Hex("000000FC00" + "5664692044697370" + "6C61790A20"), _fullHd[90..108]); // "Vdi Display\n "
        Assert.Equal(Hex("0000001000" + "00000000000000000000000000"), _fullHd[108..126]);
        Assert.Equal(0, _fullHd[126]);
        Assert.Equal(0, _fullHd.Sum(b => b) % 256);
    }

    [Fact]
    public void EightKCarriesTheModeInADisplayIdTypeViiTiming()
    {
        var edid = EdidGenerator.Generate(new DisplayProperties(7680, 4320, 96, 60));

        Assert.Equal(256, edid.Length);
        Assert.Equal(1, edid[126]);
        Assert.Equal(Hex("70" + "20" + "5D" + "04" + "00"), edid[128..133]); // tag, v2.0, 93 bytes, desktop, no ext
        Assert.Equal(Hex("20" + "00" + "17"), edid[133..136]); // Product Identification, rev 0, 23 bytes
        Assert.Equal("Vdi Display", System.Text.Encoding.ASCII.GetString(edid, 148, 11));
        Assert.Equal(Hex("21" + "00" + "1D"), edid[159..162]); // Display Parameters, 0.1 mm units, 29 bytes
        // 7680 px at 96 dpi = 2032.0 mm, 4320 px = 1143.0 mm, in 0.1 mm; then the native pixel format.
        Assert.Equal(Hex("604F" + "A62C" + "001E" + "E010"), edid[162..170]);
        Assert.Equal(Hex("22" + "00" + "14"), edid[191..194]); // Type VII, rev 0, 20 bytes
        // 7840 x 4443 x 60 = 2089987.2 kHz -> 2089987, stored minus one = 0x1FE402.
        Assert.Equal(Hex("02E41F" + "84"), edid[194..198]); // preferred, 16:9
        Assert.Equal(Hex("FF1D" + "9F00" + "2F80" + "1F00"), edid[198..206]); // H 7680, 160, 48 (+sync), 32
        Assert.Equal(Hex("DF10" + "7A00" + "0200" + "0400"), edid[206..214]); // V 4320, 123, 3 (-sync), 5
        Assert.Equal(Hex("26" + "00" + "09" + "02"), edid[214..218]); // Interface Features: RGB 8 bpc
        Assert.Equal(0, edid.AsSpan(129, 98).ToArray().Sum(b => b) % 256); // section incl. its checksum
        Assert.All(edid[227..255], b => Assert.Equal(0, b));
        Assert.Equal(0, edid[128..256].Sum(b => b) % 256);
        // The base block describes 4080 x 2295, the largest exact 16:9 mode under 4096 / 655.35 MHz.
        Assert.Equal(0xF0, edid[56]);
        Assert.Equal(0xF7, edid[59]);
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);
}
