using SkiaSharp;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Encodes rectangles of a <see cref="PixelBuffer"/> as PNG (lossless: text, static areas) or JPEG
/// (lossy: areas that change in most frames, unless they look like text). The encoding methods read
/// the buffer in place and share no state, so tiles of one frame can be encoded in parallel; the
/// choice (<see cref="ChooseEncoding"/>) keeps per-cell change history across frames, so use one
/// encoder per viewer and call <see cref="BeginFrame"/> once per frame.
/// </summary>
public sealed class TileEncoder
{
    private const int ColorSamples = 1024;

    [ThreadStatic]
    private static SKPixmap? t_pixmap;

    private PixelBuffer? _scratch; // for Encode(snapshot): the snapshot as opaque BGRA

    public TileEncoder(TileEncoderOptions? options = null)
    {
        Options = options ?? new TileEncoderOptions();
        Options.Validate();
        History = new ChangeHistory(Options.CellSize);
    }

    public TileEncoderOptions Options { get; }

    public ChangeHistory History { get; }

    /// <summary>Starts a frame of a <paramref name="width"/> x <paramref name="height"/> screen that changed in <paramref name="damage"/>.</summary>
    public void BeginFrame(int width, int height, IReadOnlyCollection<GpuRect> damage) => History.Record(width, height, damage);

    /// <summary>
    /// Encodes <paramref name="snapshot"/>, the pixels of <paramref name="region"/>, as tiles of at most
    /// <see cref="TileEncoderOptions.MaxTileSize"/> appended to <paramref name="tiles"/>.
    /// </summary>
    /// <param name="lossless">Forces PNG (e.g. to refine areas last sent as JPEG).</param>
    public void Encode(GpuRect region, ScanoutSnapshot snapshot, List<Tile> tiles, bool lossless = false)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(tiles);
        if (snapshot.Width != region.Width || snapshot.Height != region.Height)
            throw new ArgumentException($"snapshot {snapshot.Width}x{snapshot.Height} does not match region {region}", nameof(snapshot));
        if (_scratch is not { } scratch || scratch.Width != snapshot.Width || scratch.Height != snapshot.Height)
            _scratch = scratch = new PixelBuffer(snapshot.Width, snapshot.Height);
        snapshot.Pixels.AsSpan(0, snapshot.Width * snapshot.Height * 4).CopyTo(scratch.Pixels);
        scratch.ToOpaqueBgra(scratch.Bounds, snapshot.Format);
        var pitch = Options.MaxTileSize;
        for (var y = region.Y; y < region.Y + region.Height; y = NextLine(y, pitch))
        {
            var height = Math.Min(NextLine(y, pitch), region.Y + region.Height) - y;
            for (var x = region.X; x < region.X + region.Width; x = NextLine(x, pitch))
            {
                var piece = new GpuRect(x, y, Math.Min(NextLine(x, pitch), region.X + region.Width) - x, height);
                var local = piece with { X = piece.X - region.X, Y = piece.Y - region.Y };
                var encoding = lossless ? TileEncodings.Png : ChooseEncoding(region, piece, scratch, local);
                var data = encoding == TileEncodings.Jpeg ? EncodeJpeg(scratch, local, Options.JpegQuality) : EncodePng(scratch, local);
                tiles.Add(new Tile(piece.X, piece.Y, piece.Width, piece.Height, encoding, data));
            }
        }
    }

    /// <summary>
    /// PNG for small regions, for tiles that mostly did not change in recent frames and for text-like
    /// tiles; JPEG otherwise. <paramref name="pixels"/> holds the tile's pixels at <paramref name="at"/>.
    /// </summary>
    internal string ChooseEncoding(GpuRect region, GpuRect piece, PixelBuffer pixels, GpuRect at)
    {
        if (region.Area < Options.JpegMinArea)
            return TileEncodings.Png;
        if (History.FastShare(piece) < Options.JpegMinFastShare)
            return TileEncodings.Png;
        return IsTextLike(pixels, at) ? TileEncodings.Png : TileEncodings.Jpeg;
    }

    /// <summary>Few distinct colours in an even sample: text, UI chrome, flat fills compress better as PNG.</summary>
    public bool IsTextLike(PixelBuffer pixels, GpuRect rect)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        Span<uint> seen = stackalloc uint[Options.TextColorLimit + 1];
        var count = 0;
        var step = Math.Max(1, (int)(rect.Area / ColorSamples));
        for (long i = 0; i < rect.Area; i += step)
        {
            var (y, x) = Math.DivRem((int)i, rect.Width);
            var pixel = BitConverter.ToUInt32(pixels.Row(rect.Y + y, rect.X + x, 1));
            if (seen[..count].Contains(pixel))
                continue;
            if (count == seen.Length)
                return false;
            seen[count++] = pixel;
        }
        return count <= Options.TextColorLimit;
    }

    /// <summary>PNG of <paramref name="rect"/> of <paramref name="pixels"/>; thread-safe.</summary>
    public byte[] EncodePng(PixelBuffer pixels, GpuRect rect) => Encode(pixels, rect, jpeg: false, 0, Options.PngFilters, Options.PngCompressionLevel);

    /// <summary>JPEG of <paramref name="rect"/> of <paramref name="pixels"/> at <paramref name="quality"/> (1..100); thread-safe.</summary>
    public static byte[] EncodeJpeg(PixelBuffer pixels, GpuRect rect, int quality) => Encode(pixels, rect, jpeg: true, quality, default, 0);

    private static byte[] Encode(PixelBuffer pixels, GpuRect rect, bool jpeg, int quality, SKPngEncoderFilterFlags filters, int level)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (rect.IsEmpty || !pixels.Bounds.Contains(rect))
            throw new ArgumentOutOfRangeException(nameof(rect), rect, $"not inside the {pixels.Width}x{pixels.Height} buffer");
        var info = new SKImageInfo(rect.Width, rect.Height, SKColorType.Bgra8888, SKAlphaType.Opaque);
        // Skia reads the rectangle in place: the buffer is pinned, rows are Stride bytes apart. One
        // pixmap per thread, re-pointed for each tile, instead of a native object and wrapper per tile.
        var pixmap = t_pixmap ??= new SKPixmap();
        pixmap.Reset(info, pixels.Address(rect.X, rect.Y), pixels.Stride);
        using var data = jpeg
            ? pixmap.Encode(new SKJpegEncoderOptions(quality, SKJpegEncoderDownsample.Downsample420, SKJpegEncoderAlphaOption.Ignore))
            : pixmap.Encode(new SKPngEncoderOptions(filters, level));
        return data?.ToArray() ?? throw new InvalidOperationException($"SkiaSharp could not encode a {rect.Width}x{rect.Height} tile");
    }

    /// <summary>The next multiple of <paramref name="pitch"/> after <paramref name="v"/>.</summary>
    private static int NextLine(int v, int pitch) => (int)((Math.Floor(v / (double)pitch) + 1) * pitch);
}
