using Vdi.Protocol;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// The server's model of one client's picture, on a grid of <see cref="CellSize"/> cells: the pixels
/// the client was last sent (<see cref="Shown"/>, source pixels even where they went out as JPEG),
/// the latest pixels captured from the scanout (<see cref="Next"/>), and per cell whether the client
/// has it at all and whether what it has is lossy. Between frames Shown equals Next.
/// Buffers are allocated once per mode. Not thread-safe.
/// </summary>
public sealed class ClientScreen
{
    public const int CellSize = TileCache.MaxTileSize;

    private bool[] _known = [];
    private bool[] _lossy = [];
    private int _lossyCount;

    public ClientScreen(int width, int height)
    {
        Width = width;
        Height = height;
        Columns = (width + CellSize - 1) / CellSize;
        Rows = (height + CellSize - 1) / CellSize;
        Shown = new PixelBuffer(width, height);
        Next = new PixelBuffer(width, height);
        _known = new bool[Columns * Rows];
        _lossy = new bool[Columns * Rows];
    }

    public int Width { get; }

    public int Height { get; }

    public int Columns { get; }

    public int Rows { get; }

    public int Cells => Columns * Rows;

    /// <summary>What the client shows (in source pixels).</summary>
    public PixelBuffer Shown { get; }

    /// <summary>Where captures go: the scanout's latest pixels.</summary>
    public PixelBuffer Next { get; }

    /// <summary>True while some cell the client has is lossy (awaits a lossless refresh).</summary>
    public bool HasLossy => _lossyCount > 0;

    /// <summary>The rectangle of cell <paramref name="index"/>, clipped to the screen.</summary>
    public GpuRect CellRect(int index)
    {
        var (row, column) = Math.DivRem(index, Columns);
        var x = column * CellSize;
        var y = row * CellSize;
        return new GpuRect(x, y, Math.Min(CellSize, Width - x), Math.Min(CellSize, Height - y));
    }

    /// <summary>First and last column and row of the cells <paramref name="r"/> touches (r inside the screen, not empty).</summary>
    public (int C0, int R0, int C1, int R1) CellSpan(GpuRect r) =>
        (r.X / CellSize, r.Y / CellSize, (r.X + r.Width - 1) / CellSize, (r.Y + r.Height - 1) / CellSize);

    public bool IsKnown(int cell) => _known[cell];

    public bool IsLossy(int cell) => _lossy[cell];

    /// <summary>The client now has cell <paramref name="cell"/>, losslessly or not (a partial lossless update leaves it as it was).</summary>
    public void Sent(int cell, bool? lossy)
    {
        _known[cell] = true;
        if (lossy is { } value && value != _lossy[cell])
        {
            _lossy[cell] = value;
            _lossyCount += value ? 1 : -1;
        }
    }

    /// <summary>True when the client has every cell <paramref name="area"/> touches, exactly.</summary>
    public bool IsExact(GpuRect area)
    {
        var (c0, r0, c1, r1) = CellSpan(area);
        for (var row = r0; row <= r1; row++)
        {
            for (var c = c0; c <= c1; c++)
            {
                var cell = (row * Columns) + c;
                if (!_known[cell] || _lossy[cell])
                    return false;
            }
        }
        return true;
    }

    /// <summary>The client has no picture (a first or full frame): every cell must be sent again.</summary>
    public void Forget()
    {
        Array.Clear(_known);
        Array.Clear(_lossy);
        _lossyCount = 0;
    }
}
