namespace Vdi.Vmm.Memory;

/// <summary>
/// Consulted by <see cref="GuestMemory"/> before a write made on a device's behalf (DMA) while any guest page is
/// write-traced (<see cref="Tracing.WriteTracer"/>); absent otherwise, so untraced machines pay one null check.
/// </summary>
public interface IDeviceWriteCheck
{
    /// <summary>True when the write may land; false when it is refused (nothing is written).</summary>
    bool AllowDeviceWrite(string writer, ulong address, ReadOnlySpan<byte> data);
}
