using System.Diagnostics;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Interop;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Machine;

/// <summary>
/// Assembles a <see cref="Machine"/> from a <see cref="MachineConfig"/>: the KVM VM with its
/// in-kernel irqchip and PIT, RAM, the boot tables, the guest image, the devices, and vCPUs
/// placed directly in long mode. On any failure everything created so far is released.
/// </summary>
public static class MachineBuilder
{
    public static Machine Build(MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var created = Stopwatch.GetTimestamp();
        var cleanup = new Stack<IDisposable>();
        try
        {
            var kvm = Push(cleanup, KvmSystem.Open(config.KvmDevicePath));
            if (config.Vcpus > kvm.MaxVcpus)
                throw new ArgumentException($"vcpus: this host's KVM allows at most {kvm.MaxVcpus}", nameof(config));
            var vm = Push(cleanup, kvm.CreateVm());
            vm.SetTssAddr(KvmConstants.DefaultTssAddress);
            vm.SetIdentityMapAddr(KvmConstants.DefaultIdentityMapAddress);
            vm.CreateIrqchip();
            vm.CreatePit2();

            var memory = Push(cleanup, new GuestMemory(new KvmMemorySink(vm)));
            memory.AddRam(0, config.MemoryBytes);
            LongModeSetup.WriteTables(memory);
            memory.Write(config.Image.LoadAddress, config.Image.Bytes);

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

            machine = new Machine(config, kvm, vm, memory, devices, vcpus);
            cleanup.Clear();
            return machine;
        }
        finally
        {
            while (cleanup.TryPop(out var d))
                d.Dispose();
        }
    }

    private static T Push<T>(Stack<IDisposable> cleanup, T item)
        where T : IDisposable
    {
        cleanup.Push(item);
        return item;
    }
}
