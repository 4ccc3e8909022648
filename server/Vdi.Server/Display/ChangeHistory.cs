using System.Numerics;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// Which cells of a tile grid over the screen changed in each of the last few frames. A cell that
/// changed in at least <see cref="FastThreshold"/> of the last <see cref="Window"/> frames is
/// "fast-changing" (video, animation, scrolling). Not thread-safe.
/// </summary>
public sealed class ChangeHistory
{
    public const int Window = 4;
    public const int FastThreshold = 3;

    private const byte WindowMask = (1 << Window) - 1;

    private byte[] _cells = [];  // bit i: changed i frames ago (bit 0 is the latest frame)
    private bool[] _touched = [];

    public ChangeHistory(int cellSize = 64)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cellSize, 1);
        CellSize = cellSize;
    }

    public int CellSize { get; }

    public int Width { get; private set; }

    public int Height { get; private set; }

    public int Columns { get; private set; }

    public int Rows { get; private set; }

    /// <summary>
    /// Records one frame of a <paramref name="width"/> x <paramref name="height"/> screen that changed
    /// in <paramref name="damage"/>. A new size forgets the history.
    /// </summary>
    public void Record(int width, int height, IReadOnlyCollection<GpuRect> damage)
    {
        ArgumentNullException.ThrowIfNull(damage);
        if (width != Width || height != Height)
            Reset(width, height);
        Array.Clear(_touched);
        var screen = new GpuRect(0, 0, width, height);
        foreach (var rect in damage)
        {
            var r = rect.Intersect(screen);
            if (r.IsEmpty)
                continue;
            var (c0, r0, c1, r1) = CellSpan(r);
            for (var row = r0; row <= r1; row++)
                Array.Fill(_touched, true, (row * Columns) + c0, c1 - c0 + 1);
        }
        for (var i = 0; i < _cells.Length; i++)
            _cells[i] = (byte)(((_cells[i] << 1) | (_touched[i] ? 1 : 0)) & WindowMask);
    }

    /// <summary>True when the cell holding pixel (x, y) is fast-changing.</summary>
    public bool IsFastChanging(int x, int y) =>
        x >= 0 && y >= 0 && x < Width && y < Height &&
        BitOperations.PopCount(_cells[((y / CellSize) * Columns) + (x / CellSize)]) >= FastThreshold;

    /// <summary>The share of <paramref name="region"/>'s cells that are fast-changing, 0..1.</summary>
    public double FastShare(GpuRect region)
    {
        var r = region.Intersect(new GpuRect(0, 0, Width, Height));
        if (r.IsEmpty)
            return 0;
        var (c0, r0, c1, r1) = CellSpan(r);
        var fast = 0;
        for (var row = r0; row <= r1; row++)
        {
            for (var c = c0; c <= c1; c++)
            {
                if (BitOperations.PopCount(_cells[(row * Columns) + c]) >= FastThreshold)
                    fast++;
            }
        }
        return fast / (double)((c1 - c0 + 1) * (r1 - r0 + 1));
    }

    /// <summary>Forgets all history (a mode change, or a client that needs a fresh start).</summary>
    public void Reset(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        Width = width;
        Height = height;
        Columns = (width + CellSize - 1) / CellSize;
        Rows = (height + CellSize - 1) / CellSize;
        _cells = new byte[Columns * Rows];
        _touched = new bool[Columns * Rows];
    }

    private (int C0, int R0, int C1, int R1) CellSpan(GpuRect r) =>
        (r.X / CellSize, r.Y / CellSize, (r.X + r.Width - 1) / CellSize, (r.Y + r.Height - 1) / CellSize);
}
