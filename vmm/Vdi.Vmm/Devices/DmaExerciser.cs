using System.Buffers.Binary;
using Vdi.Vmm.Iommu;
using Vdi.Vmm.Memory;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Devices;

/// <summary>
/// A device that writes guest memory by DMA whenever the guest asks (<see cref="PortMap.DmaExerciser"/>): the guest
/// sets a window of pages, then each 4-byte write of a value v makes the device write a 16-byte record — v, its
/// complement, and the device's running count — at the start of window page v mod length. What the guest would see
/// of a NIC or disk completing into its buffers, on a vCPU thread, at the guest's pace: the live-migration tests and
/// benchmark load it to prove device writes reach the destination. A write the IOMMU refuses (outside the domain) is dropped and counted.
/// </summary>
public sealed class DmaExerciser : IBusDevice, IDeviceState
{
    public const int RecordBytes = 16;
    private const int MaxWindowPages = 1 << 20;

    private readonly IommuDomain _dma;
    private readonly Lock _gate = new();
    private uint _windowPage, _windowPages;
    private ulong _writes;
    private long _dropped;

    /// <param name="dma">The device's IOMMU domain: its writes are DMA, recorded by the domain's dirty bits only.</param>
    public DmaExerciser(IommuDomain dma) => _dma = dma;

    /// <summary>Records written since the machine started (restored with its state).</summary>
    public ulong Writes
    {
        get
        {
            lock (_gate)
                return _writes;
        }
    }

    /// <summary>Records refused: the window is unset or outside RAM.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public string SectionName => "dma-exerciser";

    public ushort SectionVersion => 1;

    public bool Read(in BusAccess access, Span<byte> data) => false;

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        if (data.Length != 4)
            return false;
        var value = BinaryPrimitives.ReadUInt32LittleEndian(data);
        ulong address;
        Span<byte> record = stackalloc byte[RecordBytes];
        lock (_gate)
        {
            switch (access.Offset)
            {
                case 0:
                    _windowPage = value;
                    return true;
                case 4:
                    _windowPages = Math.Min(value, MaxWindowPages);
                    return true;
                case 8:
                    break;
                default:
                    return false;
            }
            if (_windowPages == 0)
            {
                Interlocked.Increment(ref _dropped);
                return true;
            }
            _writes++;
            address = ((ulong)_windowPage + (value % _windowPages)) << DirtyBitmap.PageShift;
            BinaryPrimitives.WriteUInt32LittleEndian(record, value);
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], ~value);
            BinaryPrimitives.WriteUInt64LittleEndian(record[8..], _writes);
        }
        if (!_dma.TryWrite(address, record))
            Interlocked.Increment(ref _dropped);
        return true;
    }

    public void SaveState(SectionWriter section)
    {
        lock (_gate)
            section.U64("window_page", _windowPage).U64("window_pages", _windowPages).U64("writes", _writes);
    }

    public void RestoreState(SavedSection section)
    {
        var page = section.U64("window_page", 0, uint.MaxValue);
        var pages = section.U64("window_pages", 0, MaxWindowPages);
        var writes = section.U64("writes");
        section.EnsureAllRead();
        lock (_gate)
            (_windowPage, _windowPages, _writes) = ((uint)page, (uint)pages, writes);
    }
}
