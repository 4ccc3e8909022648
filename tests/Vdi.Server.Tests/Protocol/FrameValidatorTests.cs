using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public sealed class FrameValidatorTests
{
    private static readonly byte[] s_image = [0x89, 0x50, 0x4E, 0x47];

    public static TheoryData<Tile> ValidTiles => new()
    {
        new Tile(0, 0, 64, 64, TileEncodings.Png, s_image),
        new Tile(1856, 1016, 64, 64, TileEncodings.Png, s_image, Slot: 0),
        new Tile(0, 0, 1920, 1080, TileEncodings.Jpeg, s_image),
        new Tile(64, 128, 64, 56, TileEncodings.Cache, [], Slot: TileCache.Slots - 1),
        new Tile(200, 120, 1440, 784, TileEncodings.Copy, [], SourceX: 200, SourceY: 136),
    };

    [Theory]
    [MemberData(nameof(ValidTiles))]
    public void Tiles_of_every_encoding_pass(Tile tile) => Assert.Null(FrameValidator.Validate(tile, 1920, 1080));

    public static TheoryData<Tile, string> InvalidTiles => new()
    {
        { new Tile(0, 0, 8, 8, "webp", s_image), "encoding 'webp' is not one of" },
        { new Tile(0, 0, 8, 8, "PNG", s_image), "encoding 'PNG'" },
        { new Tile(0, 0, 8, 8, null!, s_image), "encoding ''" },
        { new Tile(1900, 0, 64, 64, TileEncodings.Png, s_image), "is not inside the 1920x1080 frame" },
        { new Tile(-1, 0, 8, 8, TileEncodings.Png, s_image), "is not inside" },
        { new Tile(0, 0, 0, 8, TileEncodings.Png, s_image), "is not inside" },
        { new Tile(0, 0, 8, 8, TileEncodings.Png, []), "png tile carries no image" },
        { new Tile(0, 0, 8, 8, TileEncodings.Png, s_image, Slot: TileCache.Slots), "slot 1024 is not in 0..1023" },
        { new Tile(0, 0, 128, 64, TileEncodings.Png, s_image, Slot: 3), "at most 64x64" },
        { new Tile(0, 0, 8, 8, TileEncodings.Jpeg, s_image, Slot: 3), "jpeg tile is never cached" },
        { new Tile(0, 0, 8, 8, TileEncodings.Cache, [], Slot: -1), "slot -1 is not in" },
        { new Tile(0, 0, 8, 8, TileEncodings.Cache, s_image, Slot: 1), "cache tile carries no image" },
        { new Tile(0, 0, 65, 8, TileEncodings.Cache, [], Slot: 1), "at most 64x64" },
        { new Tile(0, 0, 64, 64, TileEncodings.Copy, [], SourceX: 1900, SourceY: 0), "copy source 64x64+1900+0 is not inside" },
        { new Tile(0, 0, 64, 64, TileEncodings.Copy, s_image), "copy tile carries no image" },
        { new Tile(0, 0, 8, 8, TileEncodings.Png, s_image, SourceY: 16), "only a copy tile has a source" },
    };

    [Theory]
    [MemberData(nameof(InvalidTiles))]
    public void Bad_tiles_are_rejected_with_the_reason(Tile tile, string reason) =>
        Assert.Contains(reason, FrameValidator.Validate(tile, 1920, 1080), StringComparison.Ordinal);

    [Fact]
    public void A_missing_tile_is_rejected() => Assert.NotNull(FrameValidator.Validate(null, 1920, 1080));

    [Theory]
    [InlineData("png", true)]
    [InlineData("jpeg", true)]
    [InlineData("cache", true)]
    [InlineData("copy", true)]
    [InlineData("webp", false)]
    [InlineData("Cache", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Encodings_known_to_the_client(string? encoding, bool known) => Assert.Equal(known, TileEncodings.IsKnown(encoding));
}
