using SkiaSharp;

namespace Vdi.Vmm.Devices.Gpu;

/// <summary>The scanout as a SkiaSharp image, for screenshots, thumbnails and encoders.</summary>
public static class ScanoutImage
{
    /// <summary>An opaque BGRA bitmap of the snapshot, converting from any virtio-gpu format.</summary>
    public static SKBitmap ToBitmap(ScanoutSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var bitmap = new SKBitmap(new SKImageInfo(snapshot.Width, snapshot.Height, SKColorType.Bgra8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        if (snapshot.Format is GpuFormat.B8G8R8A8 or GpuFormat.B8G8R8X8)
        {
            snapshot.Pixels.CopyTo(pixels);
            for (var i = 3; i < pixels.Length; i += 4)
                pixels[i] = 0xFF;
            return bitmap;
        }
        for (var y = 0; y < snapshot.Height; y++)
        {
            for (var x = 0; x < snapshot.Width; x++)
            {
                var argb = snapshot.ArgbAt(x, y) | 0xFF00_0000;
                var i = ((y * snapshot.Width) + x) * 4;
                pixels[i] = (byte)argb;
                pixels[i + 1] = (byte)(argb >> 8);
                pixels[i + 2] = (byte)(argb >> 16);
                pixels[i + 3] = 0xFF;
            }
        }
        return bitmap;
    }

    /// <summary>Encodes the snapshot as PNG.</summary>
    public static byte[] EncodePng(ScanoutSnapshot snapshot)
    {
        using var bitmap = ToBitmap(snapshot);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
