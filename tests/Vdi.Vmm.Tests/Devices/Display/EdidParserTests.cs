using Vdi.Vmm.Devices.Display;

namespace Vdi.Vmm.Tests.Devices.Display;

public sealed class EdidParserTests
{
    private static readonly byte[] s_fullHd = EdidGenerator.Generate(new DisplayProperties(1920, 1080));
    private static readonly byte[] s_eightK = EdidGenerator.Generate(new DisplayProperties(7680, 4320));

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(127)]
    public void ShorterThanABaseBlockIsRefused(int length)
    {
        var ex = Assert.Throws<FormatException>(() => EdidParser.Parse(s_fullHd.AsSpan(0, length)));
        Assert.Contains("base block", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingDeclaredExtensionIsRefused()
    {
        var ex = Assert.Throws<FormatException>(() => EdidParser.Parse(s_eightK.AsSpan(0, 128)));
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PartialBlockIsRefused() =>
        Assert.Throws<FormatException>(() => EdidParser.Parse(s_eightK.AsSpan(0, 200)));

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void CorruptedHeaderIsRefused(int index)
    {
        var edid = (byte[])s_fullHd.Clone();
        edid[index] ^= 0x5A;

        Assert.False(EdidParser.HasValidHeader(edid));
        var ex = Assert.Throws<FormatException>(() => EdidParser.Parse(edid));
        Assert.Contains("header", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorruptedBodyIsReportedAsABadChecksum()
    {
        var edid = (byte[])s_eightK.Clone();
        edid[60] ^= 0x01;
        edid[150] ^= 0x01; // inside the Type VII descriptor

        var info = EdidParser.Parse(edid);

        Assert.Equal([false, false], info.BlockChecksumsValid);
        Assert.False(info.DisplayIdChecksumValid);
        Assert.False(info.ChecksumsValid);
    }

    [Fact]
    public void OverlongDisplayIdSectionIsRefused()
    {
        var edid = (byte[])s_eightK.Clone();
        edid[130] = 122;

        Assert.Throws<FormatException>(() => EdidParser.Parse(edid));
    }

    [Fact]
    public void DataBlockOverrunningItsSectionIsRefused()
    {
        var edid = (byte[])s_eightK.Clone();
        edid[193] = 40; // Type VII claims 40 bytes; the section holds 32 after its header

        var ex = Assert.Throws<FormatException>(() => EdidParser.Parse(edid));
        Assert.Contains("0x22", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnflaggedDisplayIdTimingFallsBackToTheBaseTiming()
    {
        var edid = (byte[])s_eightK.Clone();
        edid[197] &= 0x7F; // the Type VII descriptor's options: not preferred

        var info = EdidParser.Parse(edid);

        Assert.False(info.PreferredFromDisplayId);
        Assert.Equal((4080, 2295), (info.PreferredWidth, info.PreferredHeight));
    }

    [Fact]
    public void DisplayDescriptorInTheFirstSlotMeansNoBaseTimingAndSizeFromCentimetres()
    {
        var edid = (byte[])s_fullHd.Clone();
        edid.AsSpan(54, 18).Clear();

        var info = EdidParser.Parse(edid);

        Assert.Null(info.BaseTiming);
        Assert.Null(info.PreferredTiming);
        Assert.Equal((510, 290), (info.WidthMm, info.HeightMm));
        Assert.Equal("Vdi Display", info.MonitorName);
    }

    [Fact]
    public void RandomDamageNeverEscapesAsAnythingButFormatException()
    {
        var random = new Random(1234);
        for (var i = 0; i < 5000; i++)
        {
            var edid = (byte[])(i % 2 == 0 ? s_eightK : s_fullHd).Clone();
            for (var flips = random.Next(1, 8); flips > 0; flips--)
                edid[random.Next(8, edid.Length)] = (byte)random.Next(256);
            var length = random.Next(10) == 0 ? random.Next(edid.Length + 1) : edid.Length;

            var ex = Record.Exception(() => EdidParser.Parse(edid.AsSpan(0, length)));

            Assert.True(ex is null or FormatException, ex?.ToString());
        }
    }
}
