using System.Numerics;
using System.Runtime.InteropServices;
using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// A whole screen of opaque BGRA pixels (what Skia encodes from), rows packed, on the pinned object
/// heap so encoders can read any rectangle in place (an address and the row pitch) without copying
/// it out first. Allocated once per mode, never per frame.
/// </summary>
public sealed class PixelBuffer
{
    public PixelBuffer(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        ArgumentOutOfRangeException.ThrowIfNegative(height);
        (Width, Height) = (width, height);
        Pixels = GC.AllocateUninitializedArray<byte>(checked(width * height * 4), pinned: true);
        Array.Clear(Pixels);
    }

    public int Width { get; }

    public int Height { get; }

    public int Stride => Width * 4;

    public GpuRect Bounds => new(0, 0, Width, Height);

    /// <summary>The pixels; row y starts at y * <see cref="Stride"/>.</summary>
    public byte[] Pixels { get; }

    /// <summary>The bytes of row <paramref name="y"/> from column <paramref name="x"/>, <paramref name="width"/> pixels long.</summary>
    public Span<byte> Row(int y, int x, int width) => Pixels.AsSpan((y * Stride) + (x * 4), width * 4);

    /// <summary>The address of pixel (x, y); stable because the array is pinned.</summary>
    public nint Address(int x, int y) => Marshal.UnsafeAddrOfPinnedArrayElement(Pixels, (y * Stride) + (x * 4));

    /// <summary>Turns <paramref name="rect"/>, as the device wrote it in <paramref name="format"/>, into opaque BGRA in place.</summary>
    public void ToOpaqueBgra(GpuRect rect, GpuFormat format)
    {
        var (b, g, r) = ChannelOffsets(format);
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
        {
            var row = Row(y, rect.X, rect.Width);
            if (b == 0 && g == 1 && r == 2)
            {
                SetAlpha(MemoryMarshal.Cast<byte, uint>(row));
                continue;
            }
            for (var i = 0; i < row.Length; i += 4)
            {
                var (pb, pg, pr) = (row[i + b], row[i + g], row[i + r]);
                (row[i], row[i + 1], row[i + 2], row[i + 3]) = (pb, pg, pr, 0xFF);
            }
        }
    }

    /// <summary>Copies <paramref name="rect"/> from <paramref name="source"/> (same size) to the same place here.</summary>
    public void CopyFrom(PixelBuffer source, GpuRect rect)
    {
        ArgumentNullException.ThrowIfNull(source);
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
            source.Row(y, rect.X, rect.Width).CopyTo(Row(y, rect.X, rect.Width));
    }

    /// <summary>Moves the pixels of <paramref name="from"/>'s rows to <paramref name="toY"/> (same columns), overlapping allowed.</summary>
    public void MoveRows(GpuRect from, int toY)
    {
        if (toY < from.Y)
        {
            for (var i = 0; i < from.Height; i++)
                Row(from.Y + i, from.X, from.Width).CopyTo(Row(toY + i, from.X, from.Width));
        }
        else
        {
            for (var i = from.Height - 1; i >= 0; i--)
                Row(from.Y + i, from.X, from.Width).CopyTo(Row(toY + i, from.X, from.Width));
        }
    }

    /// <summary>
    /// The smallest rectangle inside <paramref name="rect"/> holding every pixel that differs from
    /// <paramref name="other"/> (same size); empty when none does.
    /// </summary>
    public GpuRect DiffBounds(PixelBuffer other, GpuRect rect)
    {
        ArgumentNullException.ThrowIfNull(other);
        int top = -1, bottom = -1, left = rect.Width, right = -1;
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
        {
            var a = MemoryMarshal.Cast<byte, uint>(Row(y, rect.X, rect.Width));
            var b = MemoryMarshal.Cast<byte, uint>(other.Row(y, rect.X, rect.Width));
            var first = a.CommonPrefixLength(b);
            if (first == a.Length)
                continue;
            if (top < 0)
                top = y;
            bottom = y;
            left = Math.Min(left, first);
            var last = a.Length - 1;
            while (last > right && a[last] == b[last])
                last--;
            right = Math.Max(right, last);
        }
        return top < 0 ? default : new GpuRect(rect.X + left, top, right - left + 1, bottom - top + 1);
    }

    /// <summary>True when <paramref name="rect"/> holds the same pixels here and in <paramref name="other"/> at <paramref name="otherY"/>.</summary>
    public bool RowsEqual(GpuRect rect, PixelBuffer other, int otherY)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < rect.Height; i++)
        {
            if (!Row(rect.Y + i, rect.X, rect.Width).SequenceEqual(other.Row(otherY + i, rect.X, rect.Width)))
                return false;
        }
        return true;
    }

    private static void SetAlpha(Span<uint> pixels)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var alpha = new Vector<uint>(0xFF00_0000);
            var vectors = MemoryMarshal.Cast<uint, Vector<uint>>(pixels);
            for (var v = 0; v < vectors.Length; v++)
                vectors[v] |= alpha;
            i = vectors.Length * Vector<uint>.Count;
        }
        for (; i < pixels.Length; i++)
            pixels[i] |= 0xFF00_0000; // little-endian: byte 3 is alpha
    }

    /// <summary>Where blue, green and red sit in a pixel of each virtio-gpu format (see <see cref="ScanoutSnapshot.ArgbAt"/>).</summary>
    internal static (int B, int G, int R) ChannelOffsets(GpuFormat format) => format switch
    {
        GpuFormat.B8G8R8A8 or GpuFormat.B8G8R8X8 => (0, 1, 2),
        GpuFormat.A8R8G8B8 or GpuFormat.X8R8G8B8 => (3, 2, 1),
        GpuFormat.X8B8G8R8 or GpuFormat.A8B8G8R8 => (1, 2, 3),
        _ => (2, 1, 0), // R8G8B8A8, R8G8B8X8
    };
}
