using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Damage accumulated between two frames, kept as a short list of rectangles. Rectangles that
/// overlap, touch or nearly touch are merged when their bounding box wastes little; past
/// <see cref="MaxRectangles"/> the damage is snapped to a grid of <see cref="TileSize"/> tiles
/// (and to one bounding box if even that is too fragmented). Not thread-safe.
/// </summary>
public sealed class DamageRegion
{
    private readonly List<GpuRect> _rects = [];

    /// <param name="maxRectangles">Most rectangles kept before falling back to the tile grid.</param>
    /// <param name="tileSize">Cell size of the fallback grid, in pixels.</param>
    /// <param name="mergeSlack">Undamaged pixels a merge may add to the union of two rectangles (default: a quarter tile).</param>
    public DamageRegion(int maxRectangles = 32, int tileSize = 64, long? mergeSlack = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRectangles, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tileSize, 1);
        MaxRectangles = maxRectangles;
        TileSize = tileSize;
        MergeSlack = mergeSlack ?? (long)tileSize * tileSize / 4;
    }

    public int MaxRectangles { get; }

    public int TileSize { get; }

    public long MergeSlack { get; }

    public bool IsEmpty => _rects.Count == 0;

    public int Count => _rects.Count;

    /// <summary>The rectangles as they stand (a copy).</summary>
    public GpuRect[] Rectangles => [.. _rects];

    /// <summary>The bounding box of all damage; empty when there is none.</summary>
    public GpuRect Bounds
    {
        get
        {
            if (_rects.Count == 0)
                return default;
            var b = _rects[0];
            for (var i = 1; i < _rects.Count; i++)
                b = Union(b, _rects[i]);
            return b;
        }
    }

    /// <summary>Adds a damaged rectangle; empty ones are ignored.</summary>
    public void Add(GpuRect rect)
    {
        if (rect.IsEmpty)
            return;
        foreach (var r in _rects)
        {
            if (r.Contains(rect))
                return;
        }
        // Merge until nothing more merges: each union may reach further rectangles.
        var merged = true;
        while (merged)
        {
            merged = false;
            for (var i = _rects.Count - 1; i >= 0; i--)
            {
                var other = _rects[i];
                if (rect.Contains(other))
                {
                    _rects.RemoveAt(i);
                }
                else if (WorthMerging(rect, other))
                {
                    _rects.RemoveAt(i);
                    rect = Union(rect, other);
                    merged = true;
                }
            }
        }
        _rects.Add(rect);
        if (_rects.Count > MaxRectangles)
            Simplify();
    }

    /// <summary>Returns the damage and clears it.</summary>
    public GpuRect[] Take()
    {
        var rects = _rects.ToArray();
        _rects.Clear();
        return rects;
    }

    public void Clear() => _rects.Clear();

    internal static GpuRect Union(GpuRect a, GpuRect b)
    {
        var x = Math.Min(a.X, b.X);
        var y = Math.Min(a.Y, b.Y);
        var right = Math.Max(a.X + a.Width, b.X + b.Width);
        var bottom = Math.Max(a.Y + a.Height, b.Y + b.Height);
        return new GpuRect(x, y, right - x, bottom - y);
    }

    private bool WorthMerging(GpuRect a, GpuRect b)
    {
        var covered = a.Area + b.Area - a.Intersect(b).Area;
        return Union(a, b).Area - covered <= MergeSlack;
    }

    /// <summary>Too fragmented: snap to the tile grid, then merge runs of tiles into rectangles.</summary>
    private void Simplify()
    {
        var bounds = Bounds;
        var originX = FloorToTile(bounds.X);
        var originY = FloorToTile(bounds.Y);
        var columns = (int)((((long)bounds.X + bounds.Width - originX) + TileSize - 1) / TileSize);
        var rows = (int)((((long)bounds.Y + bounds.Height - originY) + TileSize - 1) / TileSize);
        if ((long)columns * rows > 1 << 20)
        {
            Replace([bounds]);
            return;
        }
        var cells = new bool[columns * rows];
        foreach (var r in _rects)
        {
            var c0 = (r.X - originX) / TileSize;
            var c1 = (r.X + r.Width - 1 - originX) / TileSize;
            var r0 = (r.Y - originY) / TileSize;
            var r1 = (r.Y + r.Height - 1 - originY) / TileSize;
            for (var row = r0; row <= r1; row++)
                Array.Fill(cells, true, (row * columns) + c0, c1 - c0 + 1);
        }

        // Horizontal runs per grid row, extended downwards while the next row has the same run.
        var result = new List<GpuRect>();
        var open = new Dictionary<(int Start, int End), int>(); // run → index in result
        for (var row = 0; row < rows; row++)
        {
            var next = new Dictionary<(int, int), int>();
            for (var c = 0; c < columns; c++)
            {
                if (!cells[(row * columns) + c])
                    continue;
                var start = c;
                while (c + 1 < columns && cells[(row * columns) + c + 1])
                    c++;
                var run = (start, c);
                if (open.TryGetValue(run, out var index))
                {
                    result[index] = result[index] with { Height = result[index].Height + TileSize };
                }
                else
                {
                    index = result.Count;
                    result.Add(new GpuRect(originX + (start * TileSize), originY + (row * TileSize), (c - start + 1) * TileSize, TileSize));
                }
                next[run] = index;
            }
            open = next;
        }
        if (result.Count > MaxRectangles)
        {
            Replace([bounds]);
            return;
        }
        // Tiles stick out past the damage at the edges; the damage's bounds never lie.
        for (var i = 0; i < result.Count; i++)
            result[i] = result[i].Intersect(bounds);
        Replace(result);
    }

    private int FloorToTile(int v) => (int)Math.Floor(v / (double)TileSize) * TileSize;

    private void Replace(IEnumerable<GpuRect> rects)
    {
        _rects.Clear();
        _rects.AddRange(rects);
    }
}
