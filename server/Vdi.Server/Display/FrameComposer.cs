using System.IO.Hashing;
using System.Security.Cryptography;
using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Turns one frame's damage into the drawing operations one client needs, cheapest first:
/// <list type="number">
/// <item>a vertical scroll inside a damaged rectangle becomes a <c>copy</c> of the client's own pixels;</item>
/// <item>a cell (64x64, aligned) whose pixels equal what the client shows is not sent at all;</item>
/// <item>a cell whose pixels the client holds in its tile cache is a <c>cache</c> reference (motion included);</item>
/// <item>fast-changing, photo-like cells are JPEG at the current quality, merged into larger tiles;</item>
/// <item>everything else is PNG — a whole changed cell is kept in a cache slot, a partly changed
/// one is sent as the bounding box of its changed pixels.</item>
/// </list>
/// Operations come out in the order the client must apply them. Tiles can be encoded in parallel
/// (<see cref="Parallel"/>) when a frame holds enough pixels. One composer per <see cref="DesktopStream"/>: its
/// output is one version of the desktop's picture, and its cache is the slot assignment every viewer shares.
/// Not thread-safe.
/// </summary>
public sealed class FrameComposer
{
    /// <summary>Pixels a frame must encode before its tiles are encoded in parallel.</summary>
    public const long ParallelMinPixels = 96 * 1024;

    private const int MaxMergedCells = 4; // JPEG tiles: at most 4x4 cells (256x256)

    private readonly TileEncoder _encoder;
    private readonly TileSlotCache _cache;
    private readonly ScrollDetector _scroll = new();
    private readonly XxHash3 _hash;
    private readonly byte[] _seed = new byte[8];
    private readonly List<GpuRect> _changed = [];
    private readonly List<Op> _ops = [];
    private readonly List<int> _encodes = [];
    private byte[]?[] _encoded = [];
    private GpuRect[] _diff = [];
    private bool[] _dirty = [];
    private bool[] _jpeg = [];
    private sbyte[] _blockText = []; // per block of 4x4 cells this frame: 0 not looked at, 1 text-like, -1 not
    private readonly Action<int> _encodeOne;
    private int _quality;

    public FrameComposer(TileEncoder encoder, TileSlotCache? cache = null)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        _encoder = encoder;
        _cache = cache ?? new TileSlotCache();
        // A per-stream seed: a guest cannot craft two tiles with the same hash for this stream.
        RandomNumberGenerator.Fill(_seed);
        _hash = new XxHash3(BitConverter.ToInt64(_seed));
        _encodeOne = EncodeOne;
    }

    /// <summary>The client's picture; null until <see cref="Reset"/>.</summary>
    public ClientScreen? Screen { get; private set; }

    public TileSlotCache Cache => _cache;

    /// <summary>Encode tiles in parallel when a frame has enough pixels (off: always one thread).</summary>
    public bool Parallel { get; set; }

    /// <summary>Starts a mode of <paramref name="width"/> x <paramref name="height"/>: the client has no picture of it yet.</summary>
    public void Reset(int width, int height)
    {
        Screen = new ClientScreen(width, height);
        _diff = new GpuRect[Screen.Cells];
        _dirty = new bool[Screen.Cells];
        _jpeg = new bool[Screen.Cells];
        _blockText = new sbyte[BlocksAcross(Screen) * ((Screen.Rows + MaxMergedCells - 1) / MaxMergedCells)];
    }

    /// <summary>
    /// Appends to <paramref name="tiles"/> the operations that bring the client from
    /// <see cref="ClientScreen.Shown"/> to <see cref="ClientScreen.Next"/> in <paramref name="damage"/>
    /// (already captured into Next), and updates Shown. A <paramref name="lossless"/> pass instead
    /// re-sends every lossy cell as PNG.
    /// </summary>
    public void Compose(IReadOnlyList<GpuRect> damage, bool lossless, int jpegQuality, List<Tile> tiles)
    {
        ArgumentNullException.ThrowIfNull(damage);
        ArgumentNullException.ThrowIfNull(tiles);
        var screen = Screen ?? throw new InvalidOperationException("Reset the composer to a mode first");
        _ops.Clear();
        _encodes.Clear();
        _changed.Clear();
        _quality = jpegQuality;
        Array.Clear(_dirty);
        Array.Clear(_jpeg);
        Array.Clear(_blockText);

        if (lossless)
        {
            for (var cell = 0; cell < screen.Cells; cell++)
                _dirty[cell] = screen.IsLossy(cell);
        }
        else
        {
            foreach (var rect in damage)
            {
                if (_scroll.Detect(screen.Shown, screen.Next, rect) is { } copy && screen.IsExact(copy.Source))
                {
                    _ops.Add(new Op(copy.Destination, TileEncodings.Copy, TileCache.NoSlot, copy.SourceY));
                    screen.Shown.MoveRows(copy.Source, copy.DestinationY);
                }
                MarkDirty(screen, rect);
            }
        }

        // Pass 1: what changed in each dirty cell, for the change history and the encoding choice.
        long changedArea = 0;
        for (var cell = 0; cell < screen.Cells; cell++)
        {
            if (!_dirty[cell])
                continue;
            var rect = screen.CellRect(cell);
            var diff = !screen.IsKnown(cell) || (lossless && screen.IsLossy(cell)) ? rect : screen.Next.DiffBounds(screen.Shown, rect);
            _diff[cell] = diff;
            if (diff.IsEmpty)
                continue;
            changedArea += diff.Area;
            if (!lossless && screen.IsKnown(cell))
                _changed.Add(rect); // a repaint for a client without a picture is no change
        }
        _encoder.BeginFrame(screen.Width, screen.Height, _changed);

        // Pass 2: one operation per changed cell, in raster order (the order slots are filled and used).
        var options = _encoder.Options;
        for (var cell = 0; cell < screen.Cells; cell++)
        {
            if (!_dirty[cell] || _diff[cell].IsEmpty)
                continue;
            var rect = screen.CellRect(cell);
            var diff = _diff[cell];
            var hash = Hash(screen.Next, rect);
            if (_cache.TryUse(hash, out var slot))
            {
                // Exact and a few bytes, even amid motion (a looping animation comes back to its frames).
                _ops.Add(new Op(rect, TileEncodings.Cache, slot, 0));
                screen.Sent(cell, lossy: false);
            }
            else if (!lossless && changedArea >= options.JpegMinArea && _encoder.History.FastShare(rect) >= options.JpegMinFastShare
                && !IsTextLikeBlock(screen, cell))
            {
                _jpeg[cell] = true;
                screen.Sent(cell, lossy: true);
            }
            else if (diff == rect)
            {
                Encode(new Op(rect, TileEncodings.Png, _cache.Add(hash), 0));
                screen.Sent(cell, lossy: false);
            }
            else
            {
                Encode(new Op(diff, TileEncodings.Png, TileCache.NoSlot, 0));
                screen.Sent(cell, lossy: null); // the rest of the cell stays as the client had it
            }
            screen.Shown.CopyFrom(screen.Next, rect);
        }
        AddJpegTiles(screen);
        EncodeAll();

        for (var i = 0; i < _ops.Count; i++)
        {
            var op = _ops[i];
            var r = op.Rect;
            var data = _encoded[i] ?? [];
            tiles.Add(op.Encoding == TileEncodings.Copy
                ? new Tile(r.X, r.Y, r.Width, r.Height, op.Encoding, data, TileCache.NoSlot, r.X, op.SourceY)
                : new Tile(r.X, r.Y, r.Width, r.Height, op.Encoding, data, op.Slot));
            _encoded[i] = null;
        }
    }

    /// <summary>The cache slot holding the pixels of <paramref name="rect"/> in <paramref name="pixels"/> (a whole cell), if any; the cache's order is left alone.</summary>
    public bool TryFindSlot(PixelBuffer pixels, GpuRect rect, out int slot)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        return _cache.TryFind(Hash(pixels, rect), out slot);
    }

    /// <summary>
    /// Whether the block of 4x4 cells (a JPEG tile's extent) holding <paramref name="cell"/> looks like
    /// text. Judged per block, not per cell: a 64x64 piece of a smooth gradient has few colours too.
    /// </summary>
    private bool IsTextLikeBlock(ClientScreen screen, int cell)
    {
        var (row, column) = Math.DivRem(cell, screen.Columns);
        var block = ((row / MaxMergedCells) * BlocksAcross(screen)) + (column / MaxMergedCells);
        if (_blockText[block] == 0)
        {
            var size = MaxMergedCells * ClientScreen.CellSize;
            var area = new GpuRect(column / MaxMergedCells * size, row / MaxMergedCells * size, size, size).Intersect(new GpuRect(0, 0, screen.Width, screen.Height));
            _blockText[block] = _encoder.IsTextLike(screen.Next, area) ? (sbyte)1 : (sbyte)-1;
        }
        return _blockText[block] > 0;
    }

    private static int BlocksAcross(ClientScreen screen) => (screen.Columns + MaxMergedCells - 1) / MaxMergedCells;

    private void MarkDirty(ClientScreen screen, GpuRect rect)
    {
        var r = rect.Intersect(new GpuRect(0, 0, screen.Width, screen.Height));
        if (r.IsEmpty)
            return;
        var (c0, r0, c1, r1) = screen.CellSpan(r);
        for (var row = r0; row <= r1; row++)
            Array.Fill(_dirty, true, (row * screen.Columns) + c0, c1 - c0 + 1);
    }

    /// <summary>JPEG cells, merged per block of 4x4 cells into runs across and then down, each run the bounds of what changed in its cells.</summary>
    private void AddJpegTiles(ClientScreen screen)
    {
        for (var by = 0; by < screen.Rows; by += MaxMergedCells)
        {
            for (var bx = 0; bx < screen.Columns; bx += MaxMergedCells)
            {
                var rowEnd = Math.Min(by + MaxMergedCells, screen.Rows);
                var columnEnd = Math.Min(bx + MaxMergedCells, screen.Columns);
                var open = default(GpuRect);
                for (var row = by; row < rowEnd; row++)
                {
                    for (var c = bx; c < columnEnd; c++)
                    {
                        if (!_jpeg[(row * screen.Columns) + c])
                            continue;
                        var start = c;
                        while (c + 1 < columnEnd && _jpeg[(row * screen.Columns) + c + 1])
                            c++;
                        // Only what changed: the cells' unchanged rows (static text above a video) cost JPEG dearly.
                        var run = _diff[(row * screen.Columns) + start];
                        for (var k = start + 1; k <= c; k++)
                            run = DamageRegion.Union(run, _diff[(row * screen.Columns) + k]);
                        if (!open.IsEmpty && open.X == run.X && open.Width == run.Width && open.Y + open.Height == run.Y)
                        {
                            open = open with { Height = open.Height + run.Height };
                            continue;
                        }
                        if (!open.IsEmpty)
                            Encode(new Op(open, TileEncodings.Jpeg, TileCache.NoSlot, 0));
                        open = run;
                    }
                }
                if (!open.IsEmpty)
                    Encode(new Op(open, TileEncodings.Jpeg, TileCache.NoSlot, 0));
            }
        }
    }

    private void Encode(Op op)
    {
        _encodes.Add(_ops.Count);
        _ops.Add(op);
    }

    private void EncodeAll()
    {
        if (_encoded.Length < _ops.Count)
            _encoded = new byte[]?[Math.Max(_ops.Count, _encoded.Length * 2)];
        long pixels = 0;
        foreach (var i in _encodes)
            pixels += _ops[i].Rect.Area;
        if (Parallel && _encodes.Count > 1 && pixels >= ParallelMinPixels && Environment.ProcessorCount > 1)
            System.Threading.Tasks.Parallel.For(0, _encodes.Count, _encodeOne);
        else
        {
            for (var i = 0; i < _encodes.Count; i++)
                EncodeOne(i);
        }
    }

    private void EncodeOne(int job)
    {
        var index = _encodes[job];
        var op = _ops[index];
        var next = Screen!.Next;
        _encoded[index] = op.Encoding == TileEncodings.Jpeg ? TileEncoder.EncodeJpeg(next, op.Rect, _quality) : _encoder.EncodePng(next, op.Rect);
    }

    /// <summary>The cell's pixels and size, hashed with this stream's seed.</summary>
    private ulong Hash(PixelBuffer pixels, GpuRect rect)
    {
        _hash.Reset();
        Span<int> size = [rect.Width, rect.Height];
        _hash.Append(System.Runtime.InteropServices.MemoryMarshal.AsBytes(size));
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
            _hash.Append(pixels.Row(y, rect.X, rect.Width));
        return _hash.GetCurrentHashAsUInt64();
    }

    private readonly record struct Op(GpuRect Rect, string Encoding, int Slot, int SourceY);
}
