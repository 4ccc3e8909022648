using System.Buffers.Binary;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Virtio;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Devices.Virtio;

/// <summary>
/// The guest side of a virtio-mmio device, for tests: it talks to the transport only through
/// 4-byte register accesses (as a vCPU would) and builds split rings in a scratch area of guest
/// RAM. Like a real driver it never sees whether a write was refused (use the <c>Try</c> methods
/// for that) and reads all ones from a refused register.
/// </summary>
/// <remarks>
/// Single-threaded on the driver side; the device may run concurrently (a host thread under
/// <see cref="VirtioHost.Guard"/>), so ring publication follows the specification's ordering:
/// descriptors and ring entries first, then a barrier, then the index.
/// </remarks>
internal sealed class VirtioTestDriver
{
    private const ushort DescNext = 1, DescWrite = 2;

    private readonly VirtioMmioTransport _transport;
    private readonly GuestMemory _memory;
    private readonly ulong _scratchBase;
    private readonly ulong _scratchEnd;
    private readonly Dictionary<int, QueueState> _queues = [];
    private ulong _next;

    public VirtioTestDriver(VirtioMmioTransport transport, GuestMemory memory, ulong scratchBase, ulong scratchSize)
    {
        if (!memory.IsRam(scratchBase, scratchSize))
            throw new ArgumentException($"scratch [0x{scratchBase:X}, +0x{scratchSize:X}) is not guest RAM");
        _transport = transport;
        _memory = memory;
        _scratchBase = scratchBase;
        _scratchEnd = scratchBase + scratchSize;
        _next = scratchBase;
    }

    public VirtioMmioTransport Transport => _transport;

    public GuestMemory Memory => _memory;

    public uint InterruptStatus => ReadReg(VirtioMmio.RegInterruptStatus);

    public uint Status => ReadReg(VirtioMmio.RegStatus);

    public bool NeedsReset => (Status & VirtioMmio.StatusDeviceNeedsReset) != 0;

    // ---- Registers and configuration space ----

    /// <summary>A 4-byte register read; all ones when the transport refuses it (as the guest would see).</summary>
    public uint ReadReg(int offset) => TryReadReg(offset, out var value) ? value : 0xFFFF_FFFF;

    public bool TryReadReg(int offset, out uint value)
    {
        Span<byte> data = stackalloc byte[4];
        var ok = _transport.Read(At(offset), data);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(data) : 0xFFFF_FFFF;
        return ok;
    }

    /// <summary>A 4-byte register write; a refusal is invisible, as it is to a guest.</summary>
    public void WriteReg(int offset, uint value) => TryWriteReg(offset, value);

    public bool TryWriteReg(int offset, uint value)
    {
        Span<byte> data = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(data, value);
        return _transport.Write(At(offset), data);
    }

    /// <summary>Reads device configuration with 4-byte accesses where aligned, single bytes otherwise; refused bytes read as 0xFF.</summary>
    public byte[] ReadConfig(int offset, int length)
    {
        var result = new byte[length];
        TryReadConfig(offset, result);
        return result;
    }

    /// <summary>Like <see cref="ReadConfig"/>; false when any access was refused.</summary>
    public bool TryReadConfig(int offset, Span<byte> destination)
    {
        var ok = true;
        var i = 0;
        while (i < destination.Length)
        {
            var n = ChunkAt(offset + i, destination.Length - i);
            var chunk = destination.Slice(i, n);
            if (!_transport.Read(At(VirtioMmio.RegConfig + offset + i), chunk))
            {
                chunk.Fill(0xFF);
                ok = false;
            }
            i += n;
        }
        return ok;
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data) => TryWriteConfig(offset, data);

    /// <summary>Writes device configuration in the same access sizes as <see cref="TryReadConfig"/>; false when any access was refused.</summary>
    public bool TryWriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        var ok = true;
        var i = 0;
        while (i < data.Length)
        {
            var n = ChunkAt(offset + i, data.Length - i);
            ok &= _transport.Write(At(VirtioMmio.RegConfig + offset + i), data.Slice(i, n));
            i += n;
        }
        return ok;
    }

    private static int ChunkAt(int offset, int remaining) => (offset & 3) == 0 && remaining >= 4 ? 4 : 1;

    private static BusAccess At(int offset) => new((ulong)offset, 0xD000_0000UL + (ulong)offset, 0);

    // ---- Initialisation ----

    /// <summary>
    /// The driver's side of device initialisation (virtio 1.x §3.1.1): reset, ACKNOWLEDGE, DRIVER,
    /// both feature words, FEATURES_OK (asserted to stick), every queue set up from scratch
    /// memory and made ready, DRIVER_OK (asserted to leave the device healthy).
    /// </summary>
    public void Initialize(ulong driverFeatures = 1UL << 32, ushort queueSize = 16)
    {
        Reset();
        Negotiate(driverFeatures);
        for (var q = 0; q < _transport.Device.QueueCount; q++)
            SetUpQueue(q, queueSize);
        AddStatus(VirtioMmio.StatusDriverOk);
        var status = Status;
        Assert.True((status & VirtioMmio.StatusDriverOk) != 0, $"DRIVER_OK did not stick (status 0x{status:X}, {_transport.LastError})");
        Assert.True((status & VirtioMmio.StatusDeviceNeedsReset) == 0, $"device needs reset after initialisation: {_transport.LastError}");
    }

    /// <summary>Writes status 0 and forgets all queue state.</summary>
    public void Reset()
    {
        WriteReg(VirtioMmio.RegStatus, 0);
        _queues.Clear();
    }

    /// <summary>ACKNOWLEDGE, DRIVER, the two feature words and FEATURES_OK, asserting the device accepted them.</summary>
    public void Negotiate(ulong driverFeatures)
    {
        AddStatus(VirtioMmio.StatusAcknowledge);
        AddStatus(VirtioMmio.StatusDriver);
        WriteFeatures(driverFeatures);
        AddStatus(VirtioMmio.StatusFeaturesOk);
        Assert.True((Status & VirtioMmio.StatusFeaturesOk) != 0, $"device refused features 0x{driverFeatures:X}");
    }

    public ulong ReadDeviceFeatures()
    {
        WriteReg(VirtioMmio.RegDeviceFeaturesSel, 0);
        var low = ReadReg(VirtioMmio.RegDeviceFeatures);
        WriteReg(VirtioMmio.RegDeviceFeaturesSel, 1);
        var high = ReadReg(VirtioMmio.RegDeviceFeatures);
        return low | ((ulong)high << 32);
    }

    public void WriteFeatures(ulong driverFeatures)
    {
        WriteReg(VirtioMmio.RegDriverFeaturesSel, 0);
        WriteReg(VirtioMmio.RegDriverFeatures, (uint)driverFeatures);
        WriteReg(VirtioMmio.RegDriverFeaturesSel, 1);
        WriteReg(VirtioMmio.RegDriverFeatures, (uint)(driverFeatures >> 32));
    }

    /// <summary>ORs <paramref name="bits"/> into the status register (read-modify-write, as drivers do).</summary>
    public void AddStatus(uint bits) => WriteReg(VirtioMmio.RegStatus, Status | bits);

    /// <summary>Selects the queue, sets its size, allocates and programs its three rings and writes QueueReady = 1.</summary>
    public void SetUpQueue(int queue, ushort size)
    {
        WriteReg(VirtioMmio.RegQueueSel, (uint)queue);
        var max = ReadReg(VirtioMmio.RegQueueNumMax);
        Assert.True(max > 0, $"queue {queue} is not available");
        size = (ushort)Math.Min(size, max);
        WriteReg(VirtioMmio.RegQueueNum, size);
        var state = new QueueState(
            size,
            Alloc(16 * size, 16),
            Alloc(6 + (2 * size), 2),
            Alloc(6 + (8 * size), 4));
        WriteAddress(VirtioMmio.RegQueueDescLow, state.Desc);
        WriteAddress(VirtioMmio.RegQueueDriverLow, state.Avail);
        WriteAddress(VirtioMmio.RegQueueDeviceLow, state.Used);
        WriteReg(VirtioMmio.RegQueueReady, 1);
        _queues[queue] = state;
    }

    /// <summary>Writes a 64-bit address to a Low/High register pair.</summary>
    public void WriteAddress(int lowRegister, ulong address)
    {
        WriteReg(lowRegister, (uint)address);
        WriteReg(lowRegister + 4, (uint)(address >> 32));
    }

    // ---- Scratch memory ----

    /// <summary>Bump-allocates zeroed bytes from the scratch area.</summary>
    public ulong Alloc(int bytes, int alignment = 16)
    {
        if (bytes < 0 || alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentException($"bad allocation: {bytes} bytes aligned to {alignment}");
        var address = (_next + (ulong)alignment - 1) & ~((ulong)alignment - 1);
        if (address + (ulong)bytes > _scratchEnd)
            throw new InvalidOperationException($"scratch area exhausted: {bytes} bytes wanted at 0x{address:X}, end 0x{_scratchEnd:X}");
        _memory.Write(address, new byte[bytes]);
        _next = address + (ulong)bytes;
        return address;
    }

    /// <summary>Scratch bytes not yet allocated.</summary>
    public ulong ScratchFree => _scratchEnd - _next;

    public ulong ScratchBase => _scratchBase;

    // ---- Rings ----

    public ushort QueueSize(int queue) => Queue(queue).Size;

    public ulong QueueDescriptorTable(int queue) => Queue(queue).Desc;

    public ulong QueueAvailRing(int queue) => Queue(queue).Avail;

    public ulong QueueUsedRing(int queue) => Queue(queue).Used;

    /// <summary>Descriptors not currently part of a submitted chain.</summary>
    public int FreeDescriptors(int queue) => Queue(queue).Free.Count;

    /// <summary>
    /// Builds a chain from free descriptors (NEXT between them, WRITE on writable segments), puts
    /// its head in the available ring and publishes the new available index. Does not notify.
    /// </summary>
    public ushort Submit(int queue, params (ulong Address, uint Length, bool Writable)[] segments)
    {
        if (segments.Length == 0)
            throw new ArgumentException("a chain needs at least one segment");
        var q = Queue(queue);
        if (q.Free.Count < segments.Length)
            throw new InvalidOperationException($"queue {queue}: {segments.Length} descriptors wanted, {q.Free.Count} free");
        var indexes = new ushort[segments.Length];
        for (var i = 0; i < indexes.Length; i++)
            indexes[i] = q.Free.Dequeue();
        for (var i = 0; i < segments.Length; i++)
        {
            var (address, length, writable) = segments[i];
            var flags = (ushort)((writable ? DescWrite : 0) | (i + 1 < segments.Length ? DescNext : 0));
            WriteDescriptor(queue, indexes[i], address, length, flags, i + 1 < segments.Length ? indexes[i + 1] : (ushort)0);
        }
        q.Chains[indexes[0]] = indexes;
        PublishAvail(queue, indexes[0]);
        return indexes[0];
    }

    /// <summary>Writes one raw descriptor (for tests that build hostile chains by hand).</summary>
    public void WriteDescriptor(int queue, ushort index, ulong address, uint length, ushort flags, ushort next)
    {
        var d = Queue(queue).Desc + (16UL * index);
        _memory.Write(d, address);
        _memory.Write(d + 8, length);
        _memory.Write(d + 12, flags);
        _memory.Write(d + 14, next);
    }

    /// <summary>Puts <paramref name="head"/> in the next available-ring slot and publishes it.</summary>
    public void PublishAvail(int queue, ushort head)
    {
        var q = Queue(queue);
        _memory.Write(q.Avail + 4 + (2UL * (ulong)(q.AvailIdx % q.Size)), head);
        Interlocked.MemoryBarrier(); // the ring entry is visible before the index that publishes it
        q.AvailIdx++;
        _memory.Write(q.Avail + 2, q.AvailIdx);
    }

    /// <summary>Overwrites the available index without adding entries (for hostile tests).</summary>
    public void SetAvailIndex(int queue, ushort index)
    {
        var q = Queue(queue);
        q.AvailIdx = index;
        _memory.Write(q.Avail + 2, index);
    }

    public ushort UsedIndex(int queue) => _memory.Read<ushort>(Queue(queue).Used + 2);

    public void Notify(int queue) => WriteReg(VirtioMmio.RegQueueNotify, (uint)queue);

    /// <summary>Used entries the device added since the last call; their descriptors return to the free list.</summary>
    public IReadOnlyList<(uint Id, uint Length)> TakeUsed(int queue)
    {
        var q = Queue(queue);
        var index = _memory.Read<ushort>(q.Used + 2);
        Interlocked.MemoryBarrier(); // read entries only after the index that published them
        var taken = new List<(uint, uint)>();
        while (q.LastUsed != index)
        {
            var slot = q.Used + 4 + (8UL * (ulong)(q.LastUsed % q.Size));
            var id = _memory.Read<uint>(slot);
            var length = _memory.Read<uint>(slot + 4);
            taken.Add((id, length));
            if (id <= ushort.MaxValue && q.Chains.Remove((ushort)id, out var indexes))
            {
                foreach (var i in indexes)
                    q.Free.Enqueue(i);
            }
            q.LastUsed++;
        }
        return taken;
    }

    /// <summary>
    /// One synchronous request: a readable buffer holding <paramref name="request"/> and a writable
    /// buffer of <paramref name="responseSize"/> bytes, submitted, notified and completed (exactly
    /// one used entry, for this chain). Returns the bytes the device reported writing. The scratch
    /// memory is given back afterwards.
    /// </summary>
    public byte[] Request(int queue, ReadOnlySpan<byte> request, int responseSize)
    {
        var mark = _next;
        var segments = new List<(ulong, uint, bool)>();
        if (!request.IsEmpty)
        {
            var req = Alloc(request.Length);
            _memory.Write(req, request);
            segments.Add((req, (uint)request.Length, false));
        }
        var resp = 0UL;
        if (responseSize > 0)
        {
            resp = Alloc(responseSize);
            segments.Add((resp, (uint)responseSize, true));
        }
        var head = Submit(queue, [.. segments]);
        Notify(queue);
        var used = TakeUsed(queue);
        Assert.True(used.Count == 1, $"expected one used entry, got {used.Count} (status 0x{Status:X}, {_transport.LastError})");
        Assert.Equal(head, used[0].Id);
        Assert.InRange(used[0].Length, 0u, (uint)Math.Max(responseSize, 0));
        var response = new byte[used[0].Length];
        _memory.Read(resp, response);
        _next = mark;
        return response;
    }

    public void Ack(uint bits) => WriteReg(VirtioMmio.RegInterruptAck, bits);

    private QueueState Queue(int queue) =>
        _queues.TryGetValue(queue, out var state) ? state : throw new InvalidOperationException($"queue {queue} was not set up");

    private sealed class QueueState(ushort size, ulong desc, ulong avail, ulong used)
    {
        public ushort Size { get; } = size;

        public ulong Desc { get; } = desc;

        public ulong Avail { get; } = avail;

        public ulong Used { get; } = used;

        public ushort AvailIdx { get; set; }

        public ushort LastUsed { get; set; }

        public Queue<ushort> Free { get; } = new(Enumerable.Range(0, size).Select(i => (ushort)i));

        public Dictionary<ushort, ushort[]> Chains { get; } = [];
    }
}
