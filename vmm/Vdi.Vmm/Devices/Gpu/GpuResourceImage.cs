namespace Vdi.Vmm.Devices.Gpu;

/// <summary>
/// Where a GPU resource's host image lives. The default is a private array; a desktop host supplies one that places
/// scanout-sized images in the memory it shares with its broker (<see cref="IGpuResourceMemory"/>), so the guest's
/// TRANSFER_TO_HOST_2D writes where the broker reads and a flush only has to publish the damage.
/// </summary>
public abstract class GpuResourceImage
{
    /// <summary>The image: rows of <c>width × 4</c> bytes, packed.</summary>
    public abstract Span<byte> Pixels { get; }

    /// <summary>Called (under the GPU's gate) before the device writes into the image; see <see cref="EndWrite"/>.</summary>
    public virtual void BeginWrite()
    {
    }

    /// <summary>Called after the write <see cref="BeginWrite"/> announced, also when it failed half-way.</summary>
    public virtual void EndWrite()
    {
    }

    /// <summary>The resource was destroyed (UNREF, device reset): the image's memory may be reused.</summary>
    public virtual void Release()
    {
    }
}

/// <summary>Allocates resource images; called on the vCPU thread under the GPU's gate.</summary>
public interface IGpuResourceMemory
{
    /// <summary>A zeroed image of <paramref name="bytes"/> bytes for a <paramref name="width"/>×<paramref name="height"/> resource.</summary>
    GpuResourceImage Allocate(int width, int height, int bytes);
}

/// <summary>The default: every image a private, zeroed array.</summary>
public sealed class HeapResourceMemory : IGpuResourceMemory
{
    public static readonly HeapResourceMemory Instance = new();

    public GpuResourceImage Allocate(int width, int height, int bytes) => new ArrayImage(new byte[bytes]);

    private sealed class ArrayImage(byte[] pixels) : GpuResourceImage
    {
        public override Span<byte> Pixels => pixels;
    }
}
