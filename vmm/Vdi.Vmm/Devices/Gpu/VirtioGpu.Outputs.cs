namespace Vdi.Vmm.Devices.Gpu;

/// <summary>
/// The GPU's output for fault tolerance's comparison (<c>docs/vmm.md</c>, "Fault tolerance"): each flushed frame as its
/// rectangle and its pixels' hash, noted where the flush happens. Only computed while someone listens.
/// </summary>
public sealed partial class VirtioGpu
{
    /// <summary>Fault tolerance: told each flushed frame's rectangle (in the scanout, as <see cref="Flushed"/> says it) and its pixels' hash, on the vCPU's thread, after the flush's handlers.</summary>
    internal Action<GpuRect, ulong>? FrameOutput { get; set; }

    /// <summary>Under Gate: the XxHash3 of <paramref name="rect"/>'s pixels, row by row.</summary>
    private static ulong HashPixels(GpuResource resource, GpuRect rect)
    {
        var hash = new System.IO.Hashing.XxHash3();
        var pixels = resource.Pixels;
        for (var y = rect.Y; y < rect.Y + rect.Height; y++)
            hash.Append(pixels.Slice(((y * resource.Width) + rect.X) * 4, rect.Width * 4));
        return hash.GetCurrentHashAsUInt64();
    }
}
