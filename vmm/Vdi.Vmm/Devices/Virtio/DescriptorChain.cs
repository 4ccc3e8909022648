using Vdi.Vmm.Iommu;

namespace Vdi.Vmm.Devices.Virtio;

/// <summary>One guest buffer of a descriptor chain, already checked to be mapped in the device's IOMMU domain.</summary>
public readonly record struct DescriptorSegment(ulong Address, uint Length, bool Writable);

/// <summary>
/// A validated descriptor chain popped from a virtqueue: device-readable segments, then
/// device-writable ones, all mapped in the device's IOMMU domain. Reads and writes address the concatenation of
/// the readable (resp. writable) segments and go through the domain (<see cref="IommuDomain"/>): DMA.
/// </summary>
public sealed class DescriptorChain
{
    private readonly IommuDomain _dma;
    private readonly DescriptorSegment[] _segments;
    private readonly int _firstWritable;

    internal DescriptorChain(IommuDomain dma, ushort head, DescriptorSegment[] segments)
    {
        _dma = dma;
        Head = head;
        _segments = segments;
        _firstWritable = Array.FindIndex(segments, s => s.Writable);
        if (_firstWritable < 0)
            _firstWritable = segments.Length;
        ReadableLength = segments.Take(_firstWritable).Sum(s => (long)s.Length);
        WritableLength = segments.Skip(_firstWritable).Sum(s => (long)s.Length);
    }

    /// <summary>Index of the chain's first descriptor: the id reported in the used ring.</summary>
    public ushort Head { get; }

    public IReadOnlyList<DescriptorSegment> Segments => _segments;

    public long ReadableLength { get; }

    public long WritableLength { get; }

    /// <summary>Copies readable bytes starting at <paramref name="offset"/>; returns how many were available.</summary>
    public int Read(long offset, Span<byte> destination)
    {
        var copied = 0;
        foreach (var s in _segments.AsSpan(0, _firstWritable))
        {
            if (destination.IsEmpty)
                break;
            if (offset >= s.Length)
            {
                offset -= s.Length;
                continue;
            }
            var n = (int)Math.Min(s.Length - offset, destination.Length);
            _dma.Read(s.Address + (ulong)offset, destination[..n]);
            destination = destination[n..];
            copied += n;
            offset = 0;
        }
        return copied;
    }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes or throws <see cref="VirtioException"/>.</summary>
    public void ReadExactly(long offset, Span<byte> destination)
    {
        if (Read(offset, destination) != destination.Length)
            throw new VirtioException($"request needs {offset + destination.Length} readable bytes, chain has {ReadableLength}");
    }

    /// <summary>Copies into the writable segments starting at <paramref name="offset"/>; returns how many fitted.</summary>
    public int Write(long offset, ReadOnlySpan<byte> source)
    {
        var copied = 0;
        foreach (var s in _segments.AsSpan(_firstWritable))
        {
            if (source.IsEmpty)
                break;
            if (offset >= s.Length)
            {
                offset -= s.Length;
                continue;
            }
            var n = (int)Math.Min(s.Length - offset, source.Length);
            _dma.Write(s.Address + (ulong)offset, source[..n]);
            source = source[n..];
            copied += n;
            offset = 0;
        }
        return copied;
    }
}
