using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Images;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Vcpu;

namespace Vdi.Tests.Shared.Emulation;

/// <summary>
/// Runs a guest image on the software engine's <see cref="SoftCpu"/>s and <see cref="SoftMachineBus"/> against the real
/// machine: RAM is a host-only <see cref="GuestMemory"/>, ports and MMIO go to the buses of
/// <see cref="MachineDevices.Create"/> (virtio-gpu, keyboard, tablet, COM1, power port), device interrupt lines drive a
/// <see cref="SoftIoApic"/>, and hypercalls go through a real <see cref="HypercallDispatcher"/>. Unlike the engine's
/// vCPU threads, everything happens on the calling thread and the local APIC timer is never polled (tests post its
/// vector), so runs are deterministic; several vCPUs take turns, one instruction each.
/// </summary>
internal sealed class DeviceEmulatedMachine : IDisposable
{
    public const ulong DefaultMemory = 96UL << 20;

    public DeviceEmulatedMachine(GuestImage image, DisplayProperties display, ulong memorySize = DefaultMemory, TimeProvider? clock = null, int vcpus = 1)
    {
        Memory = new GuestMemory();
        Memory.AddRam(0, memorySize);
        LongModeSetup.WriteTables(Memory); // the vCPUs start on the VMM's identity tables, as in a machine
        Memory.Write(image.LoadAddress, image.Bytes);
        IoApic = new SoftIoApic((vector, destination) => Cpus[destination].PostInterrupt(vector)) { Record = true };
        var config = new MachineConfig { Image = image, Display = display, MemoryMiB = (int)(memorySize >> 20) };
        Devices = MachineDevices.Create(config, Memory, IoApic.Line, 0, code => ExitCode = code);
        Hypercalls = clock is null ? Devices.Hypercalls : new HypercallDispatcher(Devices.Accesses, clock);
        Bus = new SoftMachineBus(Memory, Devices.Pio, Devices.Mmio, Hypercalls, IoApic, memorySize) { TripleFaulted = _ => TripleFaulted = true };
        for (var i = 0; i < vcpus; i++)
            Cpus.Add(new SoftCpu(Bus, i, vcpus, image.EntryPoint));
    }

    public GuestMemory Memory { get; }

    public MachineDevices Devices { get; }

    public HypercallDispatcher Hypercalls { get; }

    public SoftIoApic IoApic { get; }

    public SoftMachineBus Bus { get; }

    public List<SoftCpu> Cpus { get; } = [];

    /// <summary>vCPU 0, the one the desktop runs on.</summary>
    public SoftCpu Cpu => Cpus[0];

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
}
