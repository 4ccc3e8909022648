using System.Runtime.InteropServices;
using SkiaSharp;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Turns damaged regions of the scanout into <see cref="Tile"/>s. Lossless PNG by default; JPEG for
/// large regions whose cells changed in most recent frames (video, animation) unless the tile looks
/// like text (few colours). Keeps per-cell change history across frames, so use one encoder per
/// viewer and call <see cref="BeginFrame"/> once per frame. Not thread-safe.
/// </summary>
public sealed class TileEncoder
{
    private const int ColorSamples = 1024;

    private readonly HashSet<uint> _colors = [];
    private byte[] _bgra = []; // pinned, reused: the converted tile Skia encodes from

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
        var pitch = Options.MaxTileSize;
        for (var y = region.Y; y < region.Y + region.Height; y = NextLine(y, pitch))
        {
            var height = Math.Min(NextLine(y, pitch), region.Y + region.Height) - y;
            for (var x = region.X; x < region.X + region.Width; x = NextLine(x, pitch))
            {
                var piece = new GpuRect(x, y, Math.Min(NextLine(x, pitch), region.X + region.Width) - x, height);
                var pixels = Convert(snapshot, piece.X - region.X, piece.Y - region.Y, piece.Width, piece.Height);
                var encoding = lossless ? TileEncodings.Png : ChooseEncoding(region, piece, pixels);
                tiles.Add(new Tile(piece.X, piece.Y, piece.Width, piece.Height, encoding, EncodeConverted(piece.Width, piece.Height, encoding)));
            }
        }
    }

    /// <summary>
    /// PNG for small regions, for tiles that mostly did not change in recent frames and for text-like
    /// tiles; JPEG otherwise. <paramref name="bgra"/> holds the tile's opaque BGRA pixels.
    /// </summary>
    internal string ChooseEncoding(GpuRect region, GpuRect piece, ReadOnlySpan<byte> bgra)
    {
        if (region.Area < Options.JpegMinArea)
            return TileEncodings.Png;
        if (History.FastShare(piece) < Options.JpegMinFastShare)
            return TileEncodings.Png;
        return IsTextLike(bgra) ? TileEncodings.Png : TileEncodings.Jpeg;
    }

    /// <summary>Few distinct colours in an even sample: text, UI chrome, flat fills compress better as PNG.</summary>
    private bool IsTextLike(ReadOnlySpan<byte> bgra)
    {
        var pixels = MemoryMarshal.Cast<byte, uint>(bgra);
        var step = Math.Max(1, pixels.Length / ColorSamples);
        _colors.Clear();
        for (var i = 0; i < pixels.Length; i += step)
        {
            if (_colors.Add(pixels[i]) && _colors.Count > Options.TextColorLimit)
                return false;
        }
        return true;
    }

    /// <summary>Encodes the tile <see cref="Convert"/> left in the reused buffer.</summary>
    private byte[] EncodeConverted(int width, int height, string encoding)
    {
        var info = new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Opaque);
        // The buffer lives on the pinned object heap, so its address is stable without unsafe code.
        using var pixmap = new SKPixmap(info, Marshal.UnsafeAddrOfPinnedArrayElement(_bgra, 0), width * 4);
        using var data = encoding == TileEncodings.Jpeg
            ? pixmap.Encode(new SKJpegEncoderOptions(Options.JpegQuality, SKJpegEncoderDownsample.Downsample420, SKJpegEncoderAlphaOption.Ignore))
            : pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, Options.PngCompressionLevel));
        return data?.ToArray() ?? throw new InvalidOperationException($"SkiaSharp could not encode a {width}x{height} {encoding} tile");
    }

    /// <summary>Copies a sub-rectangle of the snapshot into the reused buffer as opaque BGRA.</summary>
    private Span<byte> Convert(ScanoutSnapshot snapshot, int left, int top, int width, int height)
    {
        var length = width * height * 4;
        if (_bgra.Length < length)
            _bgra = GC.AllocateUninitializedArray<byte>(length, pinned: true);
        var destination = _bgra.AsSpan(0, length);
        var (b, g, r) = ChannelOffsets(snapshot.Format);
        for (var row = 0; row < height; row++)
        {
            var source = snapshot.Pixels.AsSpan((((top + row) * snapshot.Width) + left) * 4, width * 4);
            var target = destination.Slice(row * width * 4, width * 4);
            if (b == 0 && g == 1 && r == 2)
            {
                source.CopyTo(target);
                var words = MemoryMarshal.Cast<byte, uint>(target);
                for (var i = 0; i < words.Length; i++)
                    words[i] |= 0xFF00_0000; // little-endian: byte 3 is alpha
                continue;
            }
            for (var i = 0; i < target.Length; i += 4)
            {
                target[i] = source[i + b];
                target[i + 1] = source[i + g];
                target[i + 2] = source[i + r];
                target[i + 3] = 0xFF;
            }
        }
        return destination;
    }

    /// <summary>Where blue, green and red sit in a pixel of each virtio-gpu format (see <see cref="ScanoutSnapshot.ArgbAt"/>).</summary>
    private static (int B, int G, int R) ChannelOffsets(GpuFormat format) => format switch
    {
        GpuFormat.B8G8R8A8 or GpuFormat.B8G8R8X8 => (0, 1, 2),
        GpuFormat.A8R8G8B8 or GpuFormat.X8R8G8B8 => (3, 2, 1),
        GpuFormat.X8B8G8R8 or GpuFormat.A8B8G8R8 => (1, 2, 3),
        _ => (2, 1, 0), // R8G8B8A8, R8G8B8X8
    };

    /// <summary>The next multiple of <paramref name="pitch"/> after <paramref name="v"/>.</summary>
    private static int NextLine(int v, int pitch) => (int)((Math.Floor(v / (double)pitch) + 1) * pitch);
}
