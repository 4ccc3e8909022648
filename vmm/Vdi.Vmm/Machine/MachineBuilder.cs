using System.Diagnostics;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Machine;

/// <summary>
/// Assembles a <see cref="Machine"/> from a <see cref="MachineConfig"/> on the engine it asks for. On KVM: the VM with
/// its in-kernel irqchip and PIT, RAM as memory slots, vCPUs placed directly in long mode. On the software engine: the
/// same RAM, boot tables, image and devices, with <see cref="SoftCpu"/>s, local APICs and an I/O APIC of the VMM's own.
/// On any failure everything created so far is released.
/// </summary>
public static class MachineBuilder
{
    public static Machine Build(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        switch (config.Engine)
        {
            case EngineChoice.Software:
                return BuildSoftware(config, new EngineSelection(ExecutionEngine.Software, "configured"));
            case EngineChoice.Kvm:
                return BuildOnKvm(config, KvmSystem.Open(config.KvmDevicePath), new EngineSelection(ExecutionEngine.Kvm, "configured"));
            default:
                // Measured once per process: KVM only where it is faster here, not wherever /dev/kvm opens.
                var selection = EngineCalibration.Select(config.KvmDevicePath);
                if (selection.Engine == ExecutionEngine.Software)
                    return BuildSoftware(config, selection);
                KvmSystem kvm;
                try
                {
                    kvm = KvmSystem.Open(config.KvmDevicePath);
                }
                catch (KvmException e)
                {
                    return BuildSoftware(config, new EngineSelection(ExecutionEngine.Software, $"no usable KVM: {e.Message}", selection.Kvm, selection.Software));
                }
                return BuildOnKvm(config, kvm, selection);
        }
    }

    /// <summary>Builds on an open KVM system, which the machine then owns.</summary>
    private static Machine BuildOnKvm(MachineConfig config, KvmSystem kvm, EngineSelection selection)
    {
        var created = Stopwatch.GetTimestamp();
        var cleanup = new Stack<IDisposable>();
        Push(cleanup, kvm);
        try
        {
            if (config.Vcpus > kvm.MaxVcpus)
                throw new ArgumentException($"vcpus: this host's KVM allows at most {kvm.MaxVcpus}", nameof(config));
            var vm = Push(cleanup, kvm.CreateVm());
            vm.SetTssAddr(KvmConstants.DefaultTssAddress);
            vm.SetIdentityMapAddr(KvmConstants.DefaultIdentityMapAddress);
            vm.CreateIrqchip();
            vm.CreatePit2();

            var memory = Push(cleanup, new GuestMemory(new KvmMemorySink(vm)));
            LoadRam(config, memory);

            Machine? machine = null;
            var devices = MachineDevices.Create(config, memory, gsi => new KvmInterruptLine(vm, (uint)gsi), created, code => machine?.OnGuestPowerOff(code));

            var supportedCpuid = kvm.GetSupportedCpuid();
            var vcpus = new List<KvmVcpu>();
            for (var i = 0; i < config.Vcpus; i++)
            {
                var vcpu = Push(cleanup, vm.CreateVcpu(i));
                vcpus.Add(vcpu);
                vcpu.SetCpuid2(CpuidSetup.ForVcpu(supportedCpuid, i));
                vcpu.SetSregs(LongModeSetup.Apply(vcpu.GetSregs()));
                vcpu.SetRegs(LongModeSetup.EntryRegisters(config.Image.EntryPoint, i, config.Vcpus));
                // With an in-kernel local APIC, application processors wait for INIT/SIPI; ours start at the entry point.
                vcpu.SetMpState(KvmConstants.KVM_MP_STATE_RUNNABLE);
            }

            // Switching reads the exiting RIP and a switch's state from kvm_run (sync regs); without them it stays off.
            const int syncSets = (int)(KvmConstants.KVM_SYNC_X86_REGS | KvmConstants.KVM_SYNC_X86_SREGS | KvmConstants.KVM_SYNC_X86_EVENTS);
            var canSwitch = (kvm.CheckExtension(KvmConstants.KVM_CAP_SYNC_REGS) & syncSets) == syncSets;
            var guard = new ConcurrencyGuard();
            var tracer = new WriteTracer(memory, devices.Trace, splitSlots: true); // traced runs become read-only slots
            var storms = config.ExitStormSwitching && canSwitch ? ExitStormSwitches(config, memory, devices, vcpus, guard, tracer, PhysicalAddressBits(supportedCpuid)) : null;
            machine = new Machine(
                config, selection, memory, devices,
                (m, pause, stopped) =>
                {
                    VcpuThread[] threads = [.. vcpus.Select(v => new VcpuThread(v, m.Dispatcher, pause, stopped, storms?[v.Id]))];
                    guard.Attach(pause, requester => Array.ForEach(threads, t => { if (t.Id != requester) t.Kick(); }), index => threads[index].ParkIfRequested());
                    return threads;
                },
                () =>
                {
                    vm.Dispose();
                    memory.Dispose();
                    kvm.Dispose();
                },
                guard,
                tracer,
                [new KvmPicState(vm), new KvmIoApicState(vm), new KvmPitState(vm), new KvmClockState(vm)]); // controllers first
            cleanup.Clear();
            return machine;
        }
        finally
        {
            while (cleanup.TryPop(out var d))
                d.Dispose();
        }
    }

    /// <summary>
    /// A software CPU per KVM vCPU for exit-storm slices, on the machine's own memory and buses; the APIC windows and
    /// hypercalls stay KVM's (<see cref="HybridSoftBus"/>), so the engine's I/O APIC is a placeholder nothing reaches.
    /// </summary>
    private static ExitStormSwitch[] ExitStormSwitches(MachineConfig config, GuestMemory memory, MachineDevices devices, List<KvmVcpu> vcpus, ConcurrencyGuard guard, WriteTracer tracer, int physicalAddressBits)
    {
        SliceWarmUp.EnsureDone();
        var softBus = new SoftMachineBus(memory, devices.Pio, devices.Mmio, devices.Hypercalls, new SoftIoApic((_, _) => { }), config.MemoryBytes, tracer)
        {
            Guard = guard,
            Origin = WriteOrigin.SoftwareSlice, // a slice honours the same traced pages as KVM's read-only slots
        };
        var bus = new HybridSoftBus(softBus);
        return [.. vcpus.Select(v => new ExitStormSwitch(v, new SoftCpu(bus, v.Id, vcpus.Count, config.Image.EntryPoint) { PhysicalAddressBits = physicalAddressBits }, bus, new ExitStormPolicy(memory, config.ExitStorm)))];
    }

    /// <summary>MAXPHYADDR the KVM vCPUs report (CPUID 0x80000008 EAX[7:0]), so a software slice finds the same reserved bits.</summary>
    private static int PhysicalAddressBits(kvm_cpuid_entry2[] cpuid)
    {
        foreach (var entry in cpuid)
        {
            if (entry.function == 0x8000_0008 && (entry.eax & 0xFF) is >= 36 and <= 52)
                return (int)(entry.eax & 0xFF);
        }
        return SoftCpu.DefaultPhysicalAddressBits;
    }

    private static Machine BuildSoftware(MachineConfig config, EngineSelection selection)
    {
        var created = Stopwatch.GetTimestamp();
        var memory = new GuestMemory();
        try
        {
            LoadRam(config, memory);
            Machine? machine = null;
            SoftVcpuThread[] threads = [];
            var cpus = new SoftCpu[config.Vcpus];
            var ioApic = new SoftIoApic((vector, destination) =>
            {
                if ((uint)destination < (uint)cpus.Length)
                    cpus[destination]?.PostInterrupt(vector);
            });
            var devices = MachineDevices.Create(config, memory, ioApic.Line, created, code => machine?.OnGuestPowerOff(code));
            var guard = new ConcurrencyGuard();
            var tracer = new WriteTracer(memory, devices.Trace, splitSlots: false); // the TLB keeps traced pages off the fast path
            var bus = new SoftMachineBus(memory, devices.Pio, devices.Mmio, devices.Hypercalls, ioApic, config.MemoryBytes, tracer)
            {
                TripleFaulted = cpu => threads[cpu.Index].OnTripleFault(),
                Guard = guard,
            };
            for (var i = 0; i < cpus.Length; i++)
                cpus[i] = new SoftCpu(bus, i, cpus.Length, config.Image.EntryPoint);
            machine = new Machine(
                config, selection, memory, devices,
                (_, pause, stopped) =>
                {
                    threads = [.. cpus.Select(c => new SoftVcpuThread(c, pause, stopped))];
                    guard.Attach(pause, requester => Array.ForEach(threads, t => { if (t.Id != requester) t.Kick(); }), index => threads[index].ParkIfRequested());
                    return threads;
                },
                memory.Dispose,
                guard,
                tracer,
                [new SoftAbsentPic(), new SoftAbsentPit(), ioApic, new SoftGuestClock()]); // the absent PIC and PIT only check: refusals before any change
            return machine;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    private static void LoadRam(MachineConfig config, GuestMemory memory)
    {
        memory.AddRam(0, config.MemoryBytes);
        LongModeSetup.WriteTables(memory);
        memory.Write(config.Image.LoadAddress, config.Image.Bytes);
    }

    private static T Push<T>(Stack<IDisposable> cleanup, T item)
        where T : IDisposable
    {
        cleanup.Push(item);
        return item;
    }
}
