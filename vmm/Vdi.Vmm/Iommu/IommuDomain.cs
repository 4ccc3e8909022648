using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Iommu;

/// <summary>
/// One device's view of guest memory: every DMA the device makes goes through here, by I/O virtual address, translated
/// page by page through the domain's <see cref="IoPageTable"/> (accessed bits always; dirty bits on writes while
/// <see cref="DirtyTracking"/> is on, set after the data landed). A DMA that touches an unmapped or (for a write)
/// read-only page faults whole: nothing is read or written, the fault is counted and kept in <see cref="LastFault"/>,
/// and the device sees what it sees for an access outside RAM — false, or a <see cref="GuestMemoryException"/>.
/// Writes go to guest memory through its DMA path: the write trace decides them under the domain's
/// <see cref="Name"/>, and they do not mark the host-write bitmap, so this domain's dirty bits are their only record.
/// </summary>
/// <remarks>
/// Accessors take no lock: they may run on any thread (a vCPU under the device's gate, a host thread delivering input).
/// Aligned 1-, 2-, 4- and 8-byte values are single loads and stores (<see cref="Read{T}"/>, <see cref="Write{T}"/>), as
/// virtio's ring indices need.
/// </remarks>
public sealed class IommuDomain
{
    private const ulong PageSize = IoPageTable.PageSize;
    private const ulong PageMask = PageSize - 1;
    private const int StackRuns = 8;

    private readonly GuestMemory _memory;
    private volatile bool _dirtyTracking;
    private long _reads;
    private long _writes;
    private long _faults;
    private IommuFault? _lastFault;

    internal IommuDomain(string name, GuestMemory memory, bool dirtyTracking = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        _memory = memory;
        _dirtyTracking = dirtyTracking;
    }

    /// <summary>The device's name: the writer the write trace sees on its DMA writes.</summary>
    public string Name { get; }

    /// <summary>The domain's I/O page table.</summary>
    public IoPageTable Table { get; } = new();

    /// <summary>Whether DMA writes set dirty bits (switched for every domain by <see cref="VirtualIommu.StartDirtyTracking"/>).</summary>
    public bool DirtyTracking
    {
        get => _dirtyTracking;
        set => _dirtyTracking = value;
    }

    /// <summary>DMA reads completed (one per call, whatever its length).</summary>
    public long DmaReads => Interlocked.Read(ref _reads);

    /// <summary>DMA writes completed (one per call, whatever its length).</summary>
    public long DmaWrites => Interlocked.Read(ref _writes);

    /// <summary>DMAs the translation refused.</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>The newest translation fault, or null.</summary>
    public IommuFault? LastFault => Volatile.Read(ref _lastFault);

    /// <summary>True when every byte of [<paramref name="address"/>, + <paramref name="length"/>) is mapped: where a device may point a buffer.</summary>
    public bool IsMapped(ulong address, ulong length) => Table.IsMapped(address, length);

    /// <summary>Reads by I/O virtual address; false (nothing read) on a fault or when the memory behind is not RAM.</summary>
    public bool TryRead(ulong address, Span<byte> destination) => ReadCore(address, destination) is null;

    /// <summary>Reads by I/O virtual address; throws <see cref="GuestMemoryException"/> on a fault.</summary>
    public void Read(ulong address, Span<byte> destination)
    {
        if (ReadCore(address, destination) is { } error)
            throw error;
    }

    /// <summary>Reads a <typeparamref name="T"/>; inside one page, one load of its size (see <see cref="GuestMemory.Read{T}"/>).</summary>
    public T Read<T>(ulong address)
        where T : unmanaged
    {
        var size = (ulong)Unsafe.SizeOf<T>();
        if ((address & PageMask) + size <= PageSize)
        {
            var fault = Table.Access(address, write: false, out var physical, out _);
            if (fault != IoFault.None)
                throw Fault(address, fault, write: false);
            var value = _memory.Read<T>(physical);
            Interlocked.Increment(ref _reads);
            return value;
        }
        T result = default;
        Read(address, MemoryMarshal.AsBytes(new Span<T>(ref result)));
        return result;
    }

    /// <summary>Writes by I/O virtual address; false (nothing written) on a fault, outside RAM or when the trace refused it.</summary>
    public bool TryWrite(ulong address, ReadOnlySpan<byte> source) => WriteCore(address, source) is null;

    /// <summary>Writes by I/O virtual address; throws <see cref="GuestMemoryException"/> on a fault or a refusal.</summary>
    public void Write(ulong address, ReadOnlySpan<byte> source)
    {
        if (WriteCore(address, source) is { } error)
            throw error;
    }

    /// <summary>Writes a <typeparamref name="T"/>; inside one page, one store of its size (see <see cref="GuestMemory.Write{T}"/>).</summary>
    public void Write<T>(ulong address, T value)
        where T : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        if ((address & PageMask) + (ulong)size > PageSize)
        {
            Write(address, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));
            return;
        }
        var fault = Table.Access(address, write: true, out var physical, out var leaf);
        if (fault != IoFault.None)
            throw Fault(address, fault, write: true);
        if (Failure(_memory.TryWriteDma(physical, value, Name), physical, size) is { } error)
            throw error;
        if (_dirtyTracking)
            Table.MarkDirty(leaf, physical);
        Interlocked.Increment(ref _writes);
    }

    /// <summary>Moves this domain's dirty bits into a bitmap by guest-physical page (<see cref="VirtualIommu.HarvestDirty"/>).</summary>
    internal int HarvestDirty(Span<ulong> bitmap) => Table.HarvestDirty(bitmap);

    private GuestMemoryException? ReadCore(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return null;
        // The common case, checked page by page without collecting runs: every page translates to the one after the
        // last (an identity map; a row of pixels, a ring entry, a request).
        var fault = Table.Access(address, write: false, out var first, out _);
        if (fault != IoFault.None)
            return Fault(address, fault, write: false);
        var end = address + (ulong)destination.Length;
        var expected = (first | PageMask) + 1;
        for (var iova = (address | PageMask) + 1; iova < end && iova != 0; iova += PageSize, expected += PageSize)
        {
            fault = Table.Access(iova, write: false, out var physical, out _);
            if (fault != IoFault.None)
                return Fault(iova, fault, write: false);
            if (physical != expected)
                return ReadScattered(address, destination);
        }
        if (end < address)
            return Fault(address, IoFault.OutOfRange, write: false);
        if (!_memory.TryRead(first, destination))
            return new GuestMemoryException(first, (ulong)destination.Length);
        Interlocked.Increment(ref _reads);
        return null;
    }

    private GuestMemoryException? ReadScattered(ulong address, Span<byte> destination)
    {
        var runs = Translate(address, destination.Length, write: false, stackalloc DmaRun[StackRuns], out var error);
        if (error is not null)
            return error;
        var done = 0;
        foreach (var run in runs)
        {
            if (!_memory.TryRead(run.Physical, destination.Slice(done, run.Length)))
                return new GuestMemoryException(run.Physical, (ulong)run.Length);
            done += run.Length;
        }
        Interlocked.Increment(ref _reads);
        return null;
    }

    private GuestMemoryException? WriteCore(ulong address, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
            return null;
        if ((address & PageMask) + (ulong)source.Length <= PageSize)
        {
            var fault = Table.Access(address, write: true, out var physical, out var leaf);
            if (fault != IoFault.None)
                return Fault(address, fault, write: true);
            if (Failure(_memory.TryWriteDma(physical, source, Name), physical, source.Length) is { } error)
                return error;
            if (_dirtyTracking)
                Table.MarkDirty(leaf, physical);
            Interlocked.Increment(ref _writes);
            return null;
        }
        var runs = Translate(address, source.Length, write: true, stackalloc DmaRun[StackRuns], out var translationError);
        if (translationError is not null)
            return translationError;
        // Every run is decided before any lands: a refused run leaves the whole DMA unwritten.
        var done = 0;
        foreach (var run in runs)
        {
            if (Failure(_memory.CheckDmaWrite(run.Physical, source.Slice(done, run.Length), Name), run.Physical, run.Length) is { } error)
                return error;
            done += run.Length;
        }
        done = 0;
        foreach (var run in runs)
        {
            _memory.CopyDma(run.Physical, source.Slice(done, run.Length));
            done += run.Length;
        }
        if (_dirtyTracking)
            MarkDirty(address, runs);
        Interlocked.Increment(ref _writes);
        return null;
    }

    /// <summary>
    /// Translates [<paramref name="address"/>, + <paramref name="length"/>) page by page into runs contiguous in
    /// guest-physical memory (one run under an identity map), in <paramref name="buffer"/> or a larger array.
    /// </summary>
    private Span<DmaRun> Translate(ulong address, int length, bool write, Span<DmaRun> buffer, out GuestMemoryException? error)
    {
        error = null;
        var end = address + (ulong)length;
        if (end < address)
        {
            error = Fault(address, IoFault.OutOfRange, write);
            return default;
        }
        var count = 0;
        for (var iova = address; iova < end;)
        {
            var chunk = (int)Math.Min(PageSize - (iova & PageMask), end - iova);
            var fault = Table.Access(iova, write, out var physical, out _);
            if (fault != IoFault.None)
            {
                error = Fault(iova, fault, write);
                return default;
            }
            if (count > 0 && buffer[count - 1].Physical + (ulong)buffer[count - 1].Length == physical)
            {
                buffer[count - 1] = buffer[count - 1] with { Length = buffer[count - 1].Length + chunk };
            }
            else
            {
                if (count == buffer.Length)
                {
                    var grown = new DmaRun[buffer.Length * 4];
                    buffer.CopyTo(grown);
                    buffer = grown;
                }
                buffer[count++] = new DmaRun(physical, chunk);
            }
            iova += (ulong)chunk;
        }
        return buffer[..count];
    }

    /// <summary>Sets the dirty bit of every page a multi-page write touched, after all of it landed.</summary>
    private void MarkDirty(ulong address, ReadOnlySpan<DmaRun> runs)
    {
        var iova = address;
        foreach (var run in runs)
        {
            for (var offset = 0; offset < run.Length;)
            {
                var chunk = (int)Math.Min(PageSize - (iova & PageMask), (ulong)(run.Length - offset));
                Table.MarkDirty(iova, run.Physical + (ulong)offset);
                iova += (ulong)chunk;
                offset += chunk;
            }
        }
    }

    private GuestMemoryException? Failure(DmaWriteResult result, ulong physical, int length) => result switch
    {
        DmaWriteResult.Written => null,
        DmaWriteResult.Refused => GuestMemory.RefusedDmaWrite(Name, physical, length),
        _ => new GuestMemoryException(physical, (ulong)length),
    };

    private GuestMemoryException Fault(ulong address, IoFault reason, bool write)
    {
        var fault = new IommuFault(address, Name, reason, write);
        Interlocked.Increment(ref _faults);
        Volatile.Write(ref _lastFault, fault);
        return new GuestMemoryException(fault.ToString());
    }

    /// <summary>A stretch of a DMA contiguous in guest-physical memory.</summary>
    private readonly record struct DmaRun(ulong Physical, int Length);
}
