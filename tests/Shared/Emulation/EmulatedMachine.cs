using System.Buffers.Binary;
using System.Text;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Images;

namespace Vdi.Tests.Shared.Emulation;

/// <summary>How an emulation run ended.</summary>
internal enum EmulationOutcome { PoweredOff, TripleFault, AllHalted, StepLimit }

/// <summary>An MMIO or port access outside RAM and the modelled devices.</summary>
internal readonly record struct BusAccess(ulong Address, int Size, bool IsWrite, ulong Value, int Vcpu);

/// <summary>
/// A machine for <see cref="SoftCpu"/>s: RAM, the power/debug ports, COM1, the null device, the hypercall port,
/// a recording local APIC and I/O APIC. vCPUs run interleaved in small random quanta from a fixed seed, so shared-memory
/// protocols see many orderings while results stay reproducible.
/// </summary>
internal sealed class EmulatedMachine : ISoftBus
{
    private const ulong ApicWindowSize = 0x1000;
    private readonly Random _scheduler;
    private const byte TransmitterEmpty = 0x60; // THRE | TEMT
    private byte _lastLineStatus;
    private bool _transmitterBusy;
    private uint _ioRegisterSelect;

    public EmulatedMachine(GuestImage image, int vcpuCount = 1, ulong ramSize = GuestLayout.MinimumMemory, int seed = 1, ulong? loadAddress = null)
    {
        Ram = new byte[ramSize];
        using (var boot = new Vdi.Vmm.Memory.GuestMemory())
        {
            // The vCPUs start on the VMM's identity tables (and GDT), as in a machine.
            boot.AddRam(0, 0x10_0000);
            LongModeSetup.WriteTables(boot);
            boot.Read(0, Ram.AsSpan(0, 0x1_0000));
        }
        var load = loadAddress ?? image.LoadAddress;
        image.Bytes.CopyTo(Ram, (int)load);
        _scheduler = new Random(seed);
        var entry = image.EntryPoint - image.LoadAddress + load;
        for (var i = 0; i < vcpuCount; i++)
            Cpus.Add(new SoftCpu(this, i, vcpuCount, entry));
    }

    public byte[] Ram { get; }

    public List<SoftCpu> Cpus { get; } = [];

    public StringBuilder Serial { get; } = new();

    public List<byte> BootMarkers { get; } = [];

    /// <summary>Bytes written to COM1 without the last line-status read having reported the transmitter empty.</summary>
    public int SerialOverruns { get; private set; }

    public uint? ExitCode { get; private set; }

    public bool TripleFaulted { get; private set; }

    public int NullDeviceWrites { get; private set; }

    /// <summary>Hypercall handler: (vCPU, number) → rax. Registers are readable through the vCPU.</summary>
    public Func<SoftCpu, uint, ulong>? Hypercall { get; set; }

    /// <summary>Values the host-request port returns, in order; <see cref="PortMap.HostRequestNone"/> when empty.</summary>
    public Queue<byte> HostRequests { get; } = new();

    public List<BusAccess> UnclaimedMmio { get; } = [];

    public List<BusAccess> UnclaimedPorts { get; } = [];

    /// <summary>Every port access, claimed or not (reads record value 0).</summary>
    public List<BusAccess> PortAccesses { get; } = [];

    /// <summary>Every RAM write (address, size), when <see cref="RecordRamWrites"/> is set.</summary>
    public List<(ulong Address, int Size)> RamWrites { get; } = [];

    public bool RecordRamWrites { get; set; }

    /// <summary>I/O APIC redirection table as written by the guest: low and high dword per pin.</summary>
    public uint[] IoApicRedirection { get; } = InitialRedirection();

    public ulong ReadRamQword(ulong address) => BinaryPrimitives.ReadUInt64LittleEndian(Ram.AsSpan((int)address, 8));

    public EmulationOutcome Run(long maxSteps = 2_000_000)
    {
        for (long steps = 0; steps < maxSteps;)
        {
            if (ExitCode is not null)
                return EmulationOutcome.PoweredOff;
            if (TripleFaulted)
                return EmulationOutcome.TripleFault;
            var runnable = Cpus.Where(c => c.CanRun).ToList();
            if (runnable.Count == 0)
                return EmulationOutcome.AllHalted;

            var cpu = runnable[_scheduler.Next(runnable.Count)];
            for (var quantum = _scheduler.Next(1, 8); quantum > 0 && cpu.CanRun && ExitCode is null && !TripleFaulted; quantum--, steps++)
                cpu.Step();
        }

        return EmulationOutcome.StepLimit;
    }

    /// <summary>Pulses I/O APIC <paramref name="pin"/> (edge): delivers its vector if the guest unmasked it.</summary>
    public void PulseIrq(int pin)
    {
        var low = IoApicRedirection[pin * 2];
        var high = IoApicRedirection[(pin * 2) + 1];
        if ((low & ApicRegisters.LvtMasked) != 0)
            return;
        Cpus[(int)(high >> 24)].PostInterrupt((byte)low);
    }

    public Lock AtomicGate { get; } = new();

    public void TripleFault(SoftCpu cpu) => TripleFaulted = true;

    public int Fetch(ulong rip, Span<byte> window)
    {
        if (rip >= (ulong)Ram.Length)
            return 0;
        var available = Ram.AsSpan((int)rip, (int)Math.Min((ulong)window.Length, (ulong)Ram.Length - rip));
        available.CopyTo(window);
        return available.Length;
    }

    public ulong ReadMemory(SoftCpu cpu, ulong address, int size)
    {
        if (address + (ulong)size <= (ulong)Ram.Length)
            return ReadLittleEndian(Ram.AsSpan((int)address, size));
        if (address - GuestLayout.LocalApicBase < ApicWindowSize)
            return cpu.LocalApic.Read((uint)(address - GuestLayout.LocalApicBase));
        if (address - GuestLayout.IoApicBase < ApicWindowSize)
            return address - GuestLayout.IoApicBase == ApicRegisters.IoWindow ? ReadIoWindow() : _ioRegisterSelect;
        UnclaimedMmio.Add(new BusAccess(address, size, IsWrite: false, Value: 0, cpu.Index));
        return 0;
    }

    public void WriteMemory(SoftCpu cpu, ulong address, int size, ulong value)
    {
        if (address + (ulong)size <= (ulong)Ram.Length)
        {
            if (RecordRamWrites)
                RamWrites.Add((address, size));
            WriteLittleEndian(Ram.AsSpan((int)address, size), value);
        }
        else if (address - GuestLayout.LocalApicBase < ApicWindowSize)
        {
            cpu.LocalApic.Write((uint)(address - GuestLayout.LocalApicBase), (uint)value);
        }
        else if (address - GuestLayout.IoApicBase < ApicWindowSize)
        {
            WriteIoApic((uint)(address - GuestLayout.IoApicBase), (uint)value);
        }
        else
        {
            UnclaimedMmio.Add(new BusAccess(address, size, IsWrite: true, value, cpu.Index));
        }
    }

    public ulong PortIn(SoftCpu cpu, ushort port, int size)
    {
        PortAccesses.Add(new BusAccess(port, size, IsWrite: false, Value: 0, cpu.Index));
        switch (port)
        {
            case PortMap.Com1 + 5:
                // After each byte the transmitter reports busy once, so the guest's wait loop is exercised.
                _lastLineStatus = _transmitterBusy ? (byte)0 : TransmitterEmpty;
                _transmitterBusy = false;
                return _lastLineStatus;
            case PortMap.HostRequest:
                return HostRequests.Count > 0 ? HostRequests.Dequeue() : PortMap.HostRequestNone;
            default:
                UnclaimedPorts.Add(new BusAccess(port, size, IsWrite: false, Value: 0, cpu.Index));
                return ulong.MaxValue;
        }
    }

    public void PortOut(SoftCpu cpu, ushort port, int size, ulong value)
    {
        PortAccesses.Add(new BusAccess(port, size, IsWrite: true, value, cpu.Index));
        switch (port)
        {
            case PortMap.Com1:
                if ((_lastLineStatus & 0x20) == 0)
                    SerialOverruns++;
                Serial.Append((char)(byte)value);
                _transmitterBusy = true;
                _lastLineStatus = 0;
                break;
            case PortMap.PowerOff:
                ExitCode = (uint)value;
                break;
            case PortMap.BootMarker:
                BootMarkers.Add((byte)value);
                break;
            case PortMap.NullDevice:
                NullDeviceWrites++;
                break;
            case PortMap.Hypercall when Hypercall is not null:
                cpu.Registers[(int)SoftCpu.Gpr.Rax] = Hypercall(cpu, (uint)value);
                break;
            default:
                UnclaimedPorts.Add(new BusAccess(port, size, IsWrite: true, value, cpu.Index));
                break;
        }
    }

    private static uint[] InitialRedirection()
    {
        var table = new uint[48];
        for (var pin = 0; pin < 24; pin++)
            table[pin * 2] = ApicRegisters.LvtMasked; // masked out of reset
        return table;
    }

    private uint ReadIoWindow() =>
        _ioRegisterSelect - ApicRegisters.IoRedirectionTable < 48 ? IoApicRedirection[_ioRegisterSelect - ApicRegisters.IoRedirectionTable] : 0;

    private void WriteIoApic(uint offset, uint value)
    {
        if (offset == ApicRegisters.IoRegisterSelect)
            _ioRegisterSelect = value;
        else if (offset == ApicRegisters.IoWindow && _ioRegisterSelect - ApicRegisters.IoRedirectionTable < 48)
            IoApicRedirection[_ioRegisterSelect - ApicRegisters.IoRedirectionTable] = value;
        else
            throw new InvalidOperationException($"Unexpected I/O APIC write at +0x{offset:X}.");
    }

    private static ulong ReadLittleEndian(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        for (var i = bytes.Length - 1; i >= 0; i--)
            value = (value << 8) | bytes[i];
        return value;
    }

    private static void WriteLittleEndian(Span<byte> bytes, ulong value)
    {
        for (var i = 0; i < bytes.Length; i++, value >>= 8)
            bytes[i] = (byte)value;
    }
}
