using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Guest;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Guest.Emulation;

/// <summary>
/// Runs a guest image on <see cref="EmulatedCpu"/>s against the real machine: RAM is a host-only
/// <see cref="GuestMemory"/>, ports and MMIO go to the buses of <see cref="MachineDevices.Create"/> (virtio-gpu,
/// keyboard, tablet, COM1, power port), device interrupt lines drive an <see cref="EmulatedIoApic"/>, and hypercalls go
/// through a real <see cref="HypercallDispatcher"/>. The local APIC only records writes and handles EOI; its timer does
/// not run (tests post its vector). Everything happens on the calling thread; several vCPUs take turns, one
/// instruction each.
/// </summary>
internal sealed class DeviceEmulatedMachine : IEmulatorBus, IDisposable
{
    public const ulong DefaultMemory = 96UL << 20;
    private const ulong ApicWindowSize = 0x1000;
    private readonly byte[] _fillBuffer = new byte[64 * 1024];

    public DeviceEmulatedMachine(GuestImage image, DisplayProperties display, ulong memorySize = DefaultMemory, TimeProvider? clock = null, int vcpus = 1)
    {
        Memory = new GuestMemory();
        Memory.AddRam(0, memorySize);
        Memory.Write(image.LoadAddress, image.Bytes);
        IoApic = new EmulatedIoApic((vector, destination) => Cpus[destination].PostInterrupt(vector));
        var config = new MachineConfig { Image = image, Display = display, MemoryMiB = (int)(memorySize >> 20) };
        Devices = MachineDevices.Create(config, Memory, IoApic.Line, 0, code => ExitCode = code);
        Hypercalls = clock is null ? Devices.Hypercalls : new HypercallDispatcher(Devices.Accesses, clock);
        for (var i = 0; i < vcpus; i++)
            Cpus.Add(new EmulatedCpu(this, i, vcpus, image.EntryPoint));
    }

    public GuestMemory Memory { get; }

    public MachineDevices Devices { get; }

    public HypercallDispatcher Hypercalls { get; }

    public EmulatedIoApic IoApic { get; }

    public List<EmulatedCpu> Cpus { get; } = [];

    /// <summary>vCPU 0, the one the desktop runs on.</summary>
    public EmulatedCpu Cpu => Cpus[0];

    public int? ExitCode { get; private set; }

    public bool TripleFaulted { get; private set; }

    public string Serial => Devices.Com1.Output.Text;

    /// <summary>Runs until the guest powers off, faults, or every vCPU halts with nothing to deliver.</summary>
    public EmulationOutcome Run(long maxSteps = 50_000_000)
    {
        for (long steps = 0; steps < maxSteps;)
        {
            var ran = false;
            foreach (var cpu in Cpus)
            {
                if (ExitCode is not null)
                    return EmulationOutcome.PoweredOff;
                if (TripleFaulted)
                    return EmulationOutcome.TripleFault;
                if (!cpu.CanRun)
                    continue;
                cpu.Step();
                steps++;
                ran = true;
            }
            if (!ran)
                return EmulationOutcome.AllHalted;
        }

        return EmulationOutcome.StepLimit;
    }

    /// <summary>Runs until idle and fails the test with the serial log unless the guest is halted waiting for interrupts.</summary>
    public void RunUntilIdle(long maxSteps = 50_000_000)
    {
        var outcome = Run(maxSteps);
        if (outcome != EmulationOutcome.AllHalted)
            throw new InvalidOperationException($"Guest ended with {outcome} at 0x{Cpu.Rip:X}; serial:\n{Serial}");
    }

    public void Dispose() => Memory.Dispose();

    public void TripleFault() => TripleFaulted = true;

    public byte[] FetchWindow(ulong rip)
    {
        var window = new byte[15];
        for (var length = window.Length; length > 0; length--)
        {
            if (Memory.TryRead(rip, window.AsSpan(0, length)))
                return window[..length];
        }
        throw new InvalidOperationException($"Instruction fetch from 0x{rip:X}, outside RAM.");
    }

    public ulong ReadMemory(EmulatedCpu cpu, ulong address, int size)
    {
        Span<byte> data = stackalloc byte[8];
        data.Clear();
        if (Memory.TryRead(address, data[..size]))
            return BinaryPrimitives.ReadUInt64LittleEndian(data);
        if (address - GuestLayout.LocalApicBase < ApicWindowSize)
            return cpu.LocalApicWrites.GetValueOrDefault((uint)(address - GuestLayout.LocalApicBase));
        if (address - GuestLayout.IoApicBase < ApicWindowSize)
            return IoApic.Read((uint)(address - GuestLayout.IoApicBase));
        Devices.Mmio.Read(address, cpu.Index, data[..size]);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public void WriteMemory(EmulatedCpu cpu, ulong address, int size, ulong value)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        if (Memory.TryWrite(address, data[..size]))
            return;
        if (address - GuestLayout.LocalApicBase < ApicWindowSize)
        {
            var offset = (uint)(address - GuestLayout.LocalApicBase);
            cpu.LocalApicWrites[offset] = (uint)value;
            if (offset == ApicEmitter.EndOfInterruptRegister && cpu.EndOfInterrupt() is { } vector)
                IoApic.EndOfInterrupt(vector);
        }
        else if (address - GuestLayout.IoApicBase < ApicWindowSize)
        {
            IoApic.Write((uint)(address - GuestLayout.IoApicBase), (uint)value);
        }
        else
        {
            Devices.Mmio.Write(address, cpu.Index, data[..size]);
        }
    }

    public ulong PortIn(EmulatedCpu cpu, ushort port, int size)
    {
        Span<byte> data = stackalloc byte[8];
        data.Clear();
        Devices.Pio.Read(port, cpu.Index, data[..size]);
        return BinaryPrimitives.ReadUInt64LittleEndian(data);
    }

    public void PortOut(EmulatedCpu cpu, ushort port, int size, ulong value)
    {
        if (port == PortMap.Hypercall)
        {
            cpu.Registers[(int)EmulatedCpu.Gpr.Rax] = Hypercalls.Dispatch(cpu.Index, RegistersOf(cpu));
            return;
        }
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        Devices.Pio.Write(port, cpu.Index, data[..size]);
    }

    public bool TryFill(ulong address, int elementSize, ulong value, ulong count)
    {
        var total = count * (ulong)elementSize;
        if (!Memory.IsRam(address, total))
            return false;
        var chunk = (int)Math.Min(total, (ulong)_fillBuffer.Length);
        var pattern = _fillBuffer.AsSpan(0, chunk);
        switch (elementSize)
        {
            case 1: pattern.Fill((byte)value); break;
            case 4: MemoryMarshal.Cast<byte, uint>(pattern).Fill((uint)value); break;
            default: MemoryMarshal.Cast<byte, ulong>(pattern).Fill(value); break;
        }
        for (ulong done = 0; done < total;)
        {
            var n = (int)Math.Min((ulong)chunk, total - done);
            Memory.Write(address + done, pattern[..n]);
            done += (ulong)n;
        }
        return true;
    }

    public bool TryCopy(ulong destination, ulong source, ulong bytes)
    {
        if (bytes > int.MaxValue || !Memory.IsRam(source, bytes) || !Memory.IsRam(destination, bytes))
            return false;
        var buffer = new byte[bytes];
        Memory.Read(source, buffer);
        Memory.Write(destination, buffer);
        return true;
    }

    private static VcpuRegisters RegistersOf(EmulatedCpu cpu)
    {
        var r = cpu.Registers;
        return new VcpuRegisters(
            r[(int)EmulatedCpu.Gpr.Rax], r[(int)EmulatedCpu.Gpr.Rbx], r[(int)EmulatedCpu.Gpr.Rcx], r[(int)EmulatedCpu.Gpr.Rdx],
            r[(int)EmulatedCpu.Gpr.Rsi], r[(int)EmulatedCpu.Gpr.Rdi], r[(int)EmulatedCpu.Gpr.Rsp], r[(int)EmulatedCpu.Gpr.Rbp],
            r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], cpu.Rip, 2);
    }
}
