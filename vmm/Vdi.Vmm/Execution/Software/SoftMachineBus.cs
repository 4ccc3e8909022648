using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// A machine as its software vCPUs see it: guest RAM, each vCPU's local APIC and the I/O APIC at their standard
/// windows, device MMIO and ports on the machine's buses, and the hypercall port. Used by every vCPU thread at once:
/// RAM is shared as it is under KVM (the vCPUs reach most of it directly through <see cref="Ram"/>; what reaches this
/// bus is RAM the fast path leaves alone), the APICs and devices take their own locks, and <c>lock</c>ed instructions
/// are host atomics or guarded segments (<see cref="Guard"/>). Writes to pages code was fetched from bump
/// <see cref="CodeVersion"/>.
/// </summary>
internal sealed class SoftMachineBus : ISoftBus
{
    private const ulong ApicWindowSize = 0x1000;

    private readonly GuestMemory _memory;
    private readonly Bus _pio;
    private readonly Bus _mmio;
    private readonly HypercallDispatcher _hypercalls;
    private readonly byte[] _fillPattern = new byte[4096];
    private readonly Lock _fillGate = new();
    private readonly WriteTracer? _tracer;

    public SoftMachineBus(GuestMemory memory, Bus pio, Bus mmio, HypercallDispatcher hypercalls, SoftIoApic ioApic, ulong ramTop, WriteTracer? tracer = null)
    {
        _memory = memory;
        _pio = pio;
        _mmio = mmio;
        _hypercalls = hypercalls;
        _tracer = tracer;
        Ram = new SoftRam(memory, ramTop) { Traced = tracer?.Pages };
        IoApic = ioApic;
    }

    /// <summary>How this bus's vCPUs appear in traced writes: the software engine, or KVM vCPUs in exit-storm slices.</summary>
    public WriteOrigin Origin { get; init; } = WriteOrigin.Software;

    public SoftIoApic IoApic { get; }

    public Lock AtomicGate { get; } = new();

    public long CodeVersion => Ram.CodeVersion;

    /// <summary>The RAM fast path the vCPUs share (host pointers, code pages).</summary>
    public SoftRam Ram { get; }

    /// <summary>The machine's concurrency guard: counters, trace, and the stall of the other vCPUs.</summary>
    public ConcurrencyGuard? Guard { get; init; }

    /// <summary>Called when a vCPU triple-faults; the machine then stops with a crash.</summary>
    public Action<SoftCpu>? TripleFaulted { get; init; }

    public int Fetch(ulong rip, Span<byte> window)
    {
        for (var length = window.Length; length > 0; length--)
        {
            if (_memory.TryRead(rip, window[..length]))
                return length;
        }
        return 0;
    }

    public void NoteCodePage(ulong rip) => Ram.NoteCodePage(rip);

    public ulong ReadMemory(SoftCpu cpu, ulong address, int size)
    {
        Span<byte> data = stackalloc byte[8];
        data.Clear();
        if (_memory.TryRead(address, data[..size]))
            return BinaryPrimitives.ReadUInt64LittleEndian(data);
        if (address - GuestLayout.LocalApicBase < ApicWindowSize)
            return cpu.LocalApic.Read((uint)(address - GuestLayout.LocalApicBase));
        if (address - GuestLayout.IoApicBase < ApicWindowSize)
            return IoApic.Read((uint)(address - GuestLayout.IoApicBase));
        cpu.DeviceAccesses++;
        _mmio.Read(address, cpu.Index, data[..size]);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public void WriteMemory(SoftCpu cpu, ulong address, int size, ulong value)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        if (_tracer is { } tracer && tracer.Pages.AnyTraced(address, (ulong)size) && _memory.IsRam(address, (ulong)size))
        {
            // A traced page: the decision applies the store or drops it (the instruction completes either way, as on KVM).
            if (tracer.OnGuestWrite(Origin, cpu.Index, cpu.Rip, address, data[..size]) == TraceDecision.Apply)
                NoteWrite(address, (ulong)size);
            return;
        }
        if (_memory.TryWriteUntraced(address, data[..size]))
        {
            NoteWrite(address, (ulong)size);
            return;
        }
        if (address - GuestLayout.LocalApicBase < ApicWindowSize)
        {
            if (cpu.LocalApic.Write((uint)(address - GuestLayout.LocalApicBase), (uint)value) is { } retired)
                IoApic.EndOfInterrupt(retired);
        }
        else if (address - GuestLayout.IoApicBase < ApicWindowSize)
        {
            IoApic.Write((uint)(address - GuestLayout.IoApicBase), (uint)value);
        }
        else
        {
            cpu.DeviceAccesses++;
            _mmio.Write(address, cpu.Index, data[..size]);
        }
    }

    public ulong PortIn(SoftCpu cpu, ushort port, int size)
    {
        Span<byte> data = stackalloc byte[8];
        data.Clear();
        cpu.DeviceAccesses++;
        _pio.Read(port, cpu.Index, data[..size]);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public void PortOut(SoftCpu cpu, ushort port, int size, ulong value)
    {
        cpu.DeviceAccesses++;
        if (port == PortMap.Hypercall && size == 4)
        {
            cpu.Registers[(int)SoftCpu.Gpr.Rax] = _hypercalls.Dispatch(cpu.Index, cpu.GetRegisters(), cpu);
            return;
        }
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        _pio.Write(port, cpu.Index, data[..size]);
    }

    public void TripleFault(SoftCpu cpu) => TripleFaulted?.Invoke(cpu);

    public bool TryFill(ulong address, int elementSize, ulong value, ulong count)
    {
        var total = count * (ulong)elementSize;
        if (count > int.MaxValue || !_memory.IsRam(address, total) || _tracer?.Pages.AnyTraced(address, total) == true)
            return false; // a traced page: element by element, each store decided
        lock (_fillGate) // the pattern buffer is shared by the vCPU threads
        {
            var pattern = _fillPattern.AsSpan();
            switch (elementSize)
            {
                case 1: pattern.Fill((byte)value); break;
                case 2: MemoryMarshal.Cast<byte, ushort>(pattern).Fill((ushort)value); break;
                case 4: MemoryMarshal.Cast<byte, uint>(pattern).Fill((uint)value); break;
                default: MemoryMarshal.Cast<byte, ulong>(pattern).Fill(value); break;
            }
            for (ulong done = 0; done < total;)
            {
                var n = (int)Math.Min((ulong)pattern.Length, total - done);
                _memory.WriteUntraced(address + done, pattern[..n]);
                done += (ulong)n;
            }
        }
        NoteWrite(address, total);
        return true;
    }

    public bool TryCopy(ulong destination, ulong source, ulong bytes)
    {
        if (bytes > int.MaxValue || !_memory.IsRam(source, bytes) || !_memory.IsRam(destination, bytes)
            || _tracer?.Pages.AnyTraced(destination, bytes) == true)
            return false;
        Span<byte> chunk = stackalloc byte[4096];
        for (ulong done = 0; done < bytes;)
        {
            var n = (int)Math.Min((ulong)chunk.Length, bytes - done);
            _memory.Read(source + done, chunk[..n]);
            _memory.WriteUntraced(destination + done, chunk[..n]);
            done += (ulong)n;
        }
        NoteWrite(destination, bytes);
        return true;
    }

    private void NoteWrite(ulong address, ulong length) => Ram.NoteWrite(address, length);
}
