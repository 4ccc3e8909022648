using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// An <see cref="ISoftBus"/> over real guest memory with the engine's RAM fast path (<see cref="SoftRam"/>), for
/// checks of one <see cref="SoftCpu"/>: anything outside RAM is recorded, and any access to <see cref="ExitAddress"/>
/// or <see cref="ExitPort"/> throws <see cref="SoftwareSliceExit"/> before doing anything.
/// </summary>
internal sealed class RamBus : ISoftBus, IDisposable
{
    public const ulong CodeAddress = 0x10_0000;
    public const ulong RamSize = 4 << 20;

    public RamBus()
    {
        Memory.AddRam(0, RamSize);
        LongModeSetup.WriteTables(Memory); // the vCPU starts on the VMM's identity tables, as in a machine
        Ram = new SoftRam(Memory, RamSize);
    }

    public GuestMemory Memory { get; } = new();

    public SoftRam Ram { get; }

    public Lock AtomicGate { get; } = new();

    public long CodeVersion => Ram.CodeVersion;

    /// <summary>Accesses that reached the bus (not RAM through the fast path): address, size, write, value.</summary>
    public List<(ulong Address, int Size, bool IsWrite, ulong Value)> BusAccesses { get; } = [];

    public ulong? ExitAddress { get; set; }

    /// <summary>Only writes to <see cref="ExitAddress"/> exit; reads of it return <see cref="MmioValue"/>.</summary>
    public bool ExitOnWritesOnly { get; set; }

    public ushort? ExitPort { get; set; }

    /// <summary>What reads outside RAM return.</summary>
    public ulong MmioValue { get; set; }

    /// <summary>Assembles <paramref name="code"/> at <see cref="CodeAddress"/> and returns a vCPU about to run it.</summary>
    public SoftCpu Load(Action<Assembler> code)
    {
        var a = new Assembler(64);
        code(a);
        a.hlt();
        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeAddress);
        Memory.Write(CodeAddress, stream.ToArray());
        return new SoftCpu(this, 0, 1, CodeAddress);
    }

    public int Fetch(ulong rip, Span<byte> window)
    {
        for (var length = window.Length; length > 0; length--)
        {
            if (Memory.TryRead(rip, window[..length]))
                return length;
        }
        return 0;
    }

    public void NoteCodePage(ulong rip) => Ram.NoteCodePage(rip);

    public ulong ReadMemory(SoftCpu cpu, ulong address, int size)
    {
        if (address == ExitAddress && !ExitOnWritesOnly)
            throw new SoftwareSliceExit();
        var data = new byte[8];
        if (Memory.TryRead(address, data.AsSpan(0, size)))
            return BitConverter.ToUInt64(data);
        BusAccesses.Add((address, size, false, 0));
        return MmioValue;
    }

    public void WriteMemory(SoftCpu cpu, ulong address, int size, ulong value)
    {
        if (address == ExitAddress)
            throw new SoftwareSliceExit();
        BusAccesses.Add((address, size, true, value));
        var data = BitConverter.GetBytes(value);
        if (Memory.FindSlot(address) is { IsReadOnly: false })
            Memory.Write(address, data.AsSpan(0, size));
    }

    public ulong PortIn(SoftCpu cpu, ushort port, int size) =>
        port == ExitPort ? throw new SoftwareSliceExit() : 0UL;

    public void PortOut(SoftCpu cpu, ushort port, int size, ulong value)
    {
        if (port == ExitPort)
            throw new SoftwareSliceExit();
    }

    public void TripleFault(SoftCpu cpu) => throw new InvalidOperationException("triple fault");

    public ulong Read64(ulong address) => Memory.Read<ulong>(address);

    public void Dispose() => Memory.Dispose();
}
