namespace Vdi.Vmm.Devices.Gpu;

/// <summary>A rectangle in pixels.</summary>
public readonly record struct GpuRect(int X, int Y, int Width, int Height)
{
    public long Area => (long)Width * Height;

    public bool IsEmpty => Width <= 0 || Height <= 0;

    public bool Contains(GpuRect other) =>
        other.X >= X && other.Y >= Y && (long)other.X + other.Width <= (long)X + Width && (long)other.Y + other.Height <= (long)Y + Height;

    public GpuRect Intersect(GpuRect other)
    {
        var x = Math.Max(X, other.X);
        var y = Math.Max(Y, other.Y);
        var right = Math.Min((long)X + Width, (long)other.X + other.Width);
        var bottom = Math.Min((long)Y + Height, (long)other.Y + other.Height);
        return right <= x || bottom <= y ? default : new GpuRect(x, y, (int)(right - x), (int)(bottom - y));
    }

    public override string ToString() => $"{Width}x{Height}+{X}+{Y}";
}

/// <summary>The guest pointed the scanout at a resource (or disabled it, <see cref="Enabled"/> false).</summary>
/// <param name="DisplayGeneration">The newest display request the guest had read when it set the scanout.</param>
public sealed record ScanoutChange(bool Enabled, int Width, int Height, uint ResourceId, long DisplayGeneration = 0);

/// <summary>The guest flushed damage to the visible scanout; rectangles are in scanout coordinates.</summary>
public sealed record ScanoutFlush(int ScanoutWidth, int ScanoutHeight, GpuRect Damage)
{
    public bool IsFullFrame => Damage == new GpuRect(0, 0, ScanoutWidth, ScanoutHeight);
}

/// <summary>The cursor as the guest last defined it; <see cref="Pixels"/> is null when hidden.</summary>
public sealed record CursorImage(int Width, int Height, int HotX, int HotY, byte[]? Pixels, GpuFormat Format);

/// <summary>A copy of what the scanout shows, in the resource's pixel format, 4 bytes per pixel, rows packed.</summary>
public sealed record ScanoutSnapshot(int Width, int Height, GpuFormat Format, byte[] Pixels)
{
    /// <summary>The pixel at (x, y) as 0xAARRGGBB (alpha forced opaque for X formats).</summary>
    public uint ArgbAt(int x, int y)
    {
        var i = ((y * Width) + x) * 4;
        var (b0, b1, b2, b3) = (Pixels[i], Pixels[i + 1], Pixels[i + 2], Pixels[i + 3]);
        var (r, g, b, a) = Format switch
        {
            GpuFormat.B8G8R8A8 => (b2, b1, b0, b3),
            GpuFormat.B8G8R8X8 => (b2, b1, b0, (byte)0xFF),
            GpuFormat.A8R8G8B8 => (b1, b2, b3, b0),
            GpuFormat.X8R8G8B8 => (b1, b2, b3, (byte)0xFF),
            GpuFormat.R8G8B8A8 => (b0, b1, b2, b3),
            GpuFormat.X8B8G8R8 => (b3, b2, b1, (byte)0xFF),
            GpuFormat.A8B8G8R8 => (b3, b2, b1, b0),
            _ => (b0, b1, b2, (byte)0xFF), // R8G8B8X8
        };
        return ((uint)a << 24) | ((uint)r << 16) | ((uint)g << 8) | b;
    }
}

/// <summary>Limits of one GPU device.</summary>
public sealed record GpuOptions
{
    public int MaxWidth { get; init; } = 7680;

    public int MaxHeight { get; init; } = 4320;

    /// <summary>Host memory all resources of this device may use together; a guest asking for more gets ERR_OUT_OF_MEMORY.</summary>
    public long ResourceMemoryLimit { get; init; } = 512L << 20;

    /// <summary>Most backing entries one ATTACH_BACKING may carry.</summary>
    public int MaxBackingEntries { get; init; } = 16384;
}

internal sealed class GpuResource
{
    public GpuResource(uint id, GpuFormat format, int width, int height, GpuResourceImage image)
    {
        Id = id;
        Format = format;
        Width = width;
        Height = height;
        Image = image;
        if (image.Pixels.Length != ByteCount)
            throw new ArgumentException($"an image of {image.Pixels.Length} bytes for a {width}x{height} resource", nameof(image));
    }

    public uint Id { get; }

    public GpuFormat Format { get; }

    public int Width { get; }

    public int Height { get; }

    public int Stride => Width * 4;

    public long ByteCount => (long)Width * Height * 4;

    /// <summary>The host image (private, or in memory shared with the broker).</summary>
    public GpuResourceImage Image { get; }

    public Span<byte> Pixels => Image.Pixels;

    /// <summary>Guest memory backing the resource, in order; null when detached.</summary>
    public (ulong Address, uint Length)[]? Backing { get; set; }

    public GpuRect Bounds => new(0, 0, Width, Height);
}
