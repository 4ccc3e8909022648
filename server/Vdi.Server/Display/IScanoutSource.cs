using Vdi.Vmm.Devices.Gpu;

namespace Vdi.Server.Display;

/// <summary>
/// A frame pump's view of one display: damage and mode notifications, and region reads.
/// </summary>
/// <remarks>
/// Events may be raised on any thread (a vCPU's, for the real GPU) while the source holds its own
/// lock: handlers must only record what happened and must not call back into the source.
/// </remarks>
public interface IScanoutSource
{
    /// <summary>The guest flushed a rectangle of the visible scanout (scanout coordinates).</summary>
    event Action<ScanoutFlush>? Flushed;

    /// <summary>The scanout was pointed at another resource, possibly of another size, or disabled.</summary>
    event Action<ScanoutChange>? ScanoutChanged;

    /// <summary>The size of the visible scanout, or null when there is none.</summary>
    (int Width, int Height)? Mode { get; }

    /// <summary>The density the guest lays out for, 0 when the source does not know.</summary>
    double Dpi => 0;

    /// <summary>
    /// A copy of <paramref name="region"/> clipped to the scanout (starting at (max(X, 0), max(Y, 0))),
    /// or null when there is no scanout.
    /// </summary>
    ScanoutSnapshot? Capture(GpuRect region);

    /// <summary>
    /// Copies <paramref name="region"/> (which must lie inside the scanout) into <paramref name="destination"/>,
    /// a buffer of rows <paramref name="stride"/> bytes apart, at the region's own position; false when there
    /// is no scanout or the region does not fit it. Copies only the region's rows, with no allocation.
    /// </summary>
    bool TryCapture(GpuRect region, Span<byte> destination, int stride, out GpuFormat format)
    {
        format = default;
        if (Capture(region) is not { } shot || shot.Width != region.Width || shot.Height != region.Height)
            return false;
        for (var row = 0; row < region.Height; row++)
            shot.Pixels.AsSpan(row * region.Width * 4, region.Width * 4).CopyTo(destination[(((region.Y + row) * stride) + (region.X * 4))..]);
        format = shot.Format;
        return true;
    }
}
