using Iced.Intel;
using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;
using static Vdi.Vmm.Tests.Integrity.IntegrityGuest;

namespace Vdi.Vmm.Tests.Integrity;

/// <summary>The integrity cases both engines run (<see cref="SoftwareIntegrityTests"/>, <see cref="KvmIntegrityTests"/>).</summary>
internal static class IntegrityCases
{
    public static async Task RegistrationProtectsTheTreeAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((_, _) => { }));
        await RunAsync(machine);

        Assert.Equal(IntegrityResults.Ok, machine.Memory.Read<ulong>(Results));
        var driver = Assert.IsType<IntegrityDriver>(machine.Integrity.Driver);
        Assert.Equal(Pml4, driver.Cr3 & ~0xFFFUL);
        Assert.Equal([CodeTag, IdtTag, DataTag, TreeTag], machine.Integrity.Protected.Select(r => r.Tag));
        Assert.Empty(machine.Integrity.Alerts);
        foreach (var traced in new[] { GuestLayout.ImageBase, Idt, KernelData, Tree, Pml4, Pdpt, Pd, Pt })
            Assert.True(machine.Tracer.IsTraced(traced), $"0x{traced:X} is not traced");
        Assert.False(machine.Tracer.IsTraced(NextData));
    }

    public static async Task CodeWriteIsRefusedAsync(EngineChoice engine, IntegrityLevel level = IntegrityLevel.Enforce)
    {
        var image = Build((a, _) =>
        {
            a.mov(rdx, GuestLayout.ImageBase);
            a.mov(__byte_ptr[rdx], 0xCC);
            a.movzx(eax, __byte_ptr[rdx]);
            a.mov(__qword_ptr[Out(0)], rax);
        });
        using var machine = IntegrityGuest.Machine(engine, image, level);
        await RunAsync(machine);

        var applied = level == IntegrityLevel.Audit;
        Assert.Equal(applied ? 0xCCUL : image.Bytes[0], machine.Memory.Read<ulong>(Out(0)));
        var alert = Assert.Single(machine.Integrity.Alerts);
        Assert.Equal(IntegrityAlertKind.ProtectedPage, alert.Kind);
        Assert.Equal(GuestLayout.ImageBase, alert.Virtual);
        Assert.Equal(GuestLayout.ImageBase, alert.Physical);
        Assert.Equal([image.Bytes[0]], alert.Before);
        Assert.Equal([(byte)0xCC], alert.After);
        Assert.Equal(ProtectionAction.Refuse, alert.Action);
        Assert.Equal(applied, alert.Applied);
        Assert.Equal(0, alert.Vcpu);
        Assert.NotNull(alert.Rip);
        Assert.Null(alert.Device);
    }

    public static async Task IdtWriteIsAlertedAndLandsAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, _) =>
        {
            a.mov(rax, 0x1234UL);
            a.mov(__qword_ptr[Idt + (14 * 16)], rax);
        }));
        await RunAsync(machine);

        var alert = Assert.Single(machine.Integrity.Alerts);
        Assert.Equal((IntegrityAlertKind.ProtectedPage, ProtectionAction.Alert, true), (alert.Kind, alert.Action, alert.Applied));
        Assert.Equal(Idt + (14 * 16), alert.Virtual);
        Assert.Equal(0x1234UL, machine.Memory.Read<ulong>(Idt + (14 * 16)));
    }

    public static async Task RemapOfAProtectedPageIsCaughtAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, _) =>
        {
            a.mov(rax, RemapTarget | Entry);
            a.mov(__qword_ptr[Pte(KernelData)], rax); // no protected page is written
            a.mov(rdx, KernelData);
            a.invlpg(__[rdx]);
            a.mov(rax, __qword_ptr[rdx]);
            a.mov(__qword_ptr[Out(0)], rax);
        }));
        await RunAsync(machine);

        var alert = Assert.Single(machine.Integrity.Alerts);
        Assert.Equal((IntegrityAlertKind.PageTable, false), (alert.Kind, alert.Applied));
        Assert.Equal(KernelData, alert.Virtual);
        Assert.Equal(Pte(KernelData), alert.Physical);
        Assert.Equal(DataMarker, machine.Memory.Read<ulong>(Out(0))); // still the protected page, not the target
        Assert.Equal(KernelData | Entry, machine.Memory.Read<ulong>(Pte(KernelData)));
    }

    public static async Task ProtectionChangeOutsideIntegrityModeIsRefusedAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, _) =>
        {
            a.mov(__dword_ptr[NodeC + ProtectionTree.ActionOffset], (uint)ProtectionAction.Alert);
            Hypercall(a, IntegrityHypercalls.Leave);
            a.mov(__qword_ptr[Out(0)], rax);
            a.mov(__qword_ptr[KernelData], 0);
        }));
        await RunAsync(machine);

        Assert.Equal(IntegrityResults.Refused, machine.Memory.Read<ulong>(Out(0)));
        Assert.Equal([IntegrityAlertKind.Tree, IntegrityAlertKind.Protocol, IntegrityAlertKind.ProtectedPage], machine.Integrity.Alerts.Select(x => x.Kind));
        Assert.All(machine.Integrity.Alerts, x => Assert.False(x.Applied));
        Assert.Equal(NodeC + ProtectionTree.ActionOffset, machine.Integrity.Alerts[0].Virtual);
        Assert.Equal((ulong)ProtectionAction.Refuse | ((ulong)DataTag << 32), machine.Memory.Read<ulong>(NodeC + ProtectionTree.ActionOffset));
        Assert.Equal(DataMarker, machine.Memory.Read<ulong>(KernelData));
    }

    public static async Task EnteringAnywhereButTheEntryPointIsRefusedAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, d) =>
        {
            Hypercall(a, IntegrityHypercalls.Enter); // the attacker's own hypercall
            a.mov(__qword_ptr[Out(0)], rax);
            a.mov(rbx, NodeD + ProtectionTree.LeftOffset); // a jump into the driver's body, past its entry point
            a.mov(rcx, NodeE);
            a.call(d.Body);
            a.mov(__qword_ptr[Out(1)], rax);
            a.mov(__qword_ptr[NextData], 7); // still unprotected
        }));
        await RunAsync(machine);

        Assert.Equal(IntegrityResults.Refused, machine.Memory.Read<ulong>(Out(0)));
        Assert.Equal(IntegrityResults.Refused, machine.Memory.Read<ulong>(Out(1)));
        Assert.Equal([IntegrityAlertKind.EntryPoint, IntegrityAlertKind.Tree, IntegrityAlertKind.Protocol], machine.Integrity.Alerts.Select(x => x.Kind));
        Assert.Equal(0UL, machine.Memory.Read<ulong>(NodeD + ProtectionTree.LeftOffset));
        Assert.Equal(4, machine.Integrity.Protected.Count);
        Assert.Equal(7UL, machine.Memory.Read<ulong>(NextData));
    }

    public static async Task TheDriverChangesTheSetThroughItsEntryPointAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, d) =>
        {
            a.mov(rbx, NodeD + ProtectionTree.LeftOffset);
            a.mov(rcx, NodeE);
            a.call(d.Link);
            a.mov(__qword_ptr[Out(0)], rax);
            a.mov(__qword_ptr[NextData], 7); // protected now
            a.mov(rax, __qword_ptr[NextData]);
            a.mov(__qword_ptr[Out(1)], rax);
        }));
        await RunAsync(machine);

        Assert.Equal(IntegrityResults.Ok, machine.Memory.Read<ulong>(Out(0)));
        Assert.Equal([CodeTag, IdtTag, DataTag, NextTag, TreeTag], machine.Integrity.Protected.Select(r => r.Tag));
        var alert = Assert.Single(machine.Integrity.Alerts);
        Assert.Equal((IntegrityAlertKind.ProtectedPage, NextData, false), (alert.Kind, alert.Virtual, alert.Applied));
        Assert.Equal(0UL, machine.Memory.Read<ulong>(Out(1)));
        Assert.False(machine.Integrity.InIntegrityMode(0));
    }

    public static async Task UnprotectedNeighboursAreNotCaughtAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, _) =>
        {
            a.mov(__qword_ptr[Unprotected], 5);
            a.mov(__qword_ptr[NextData], 6);
            a.mov(rax, RemapTarget | Entry);
            a.mov(__qword_ptr[Pte(Unprotected)], rax); // a page-table page on a protected path, an unprotected entry
            a.mov(rdx, Unprotected);
            a.invlpg(__[rdx]);
            a.mov(rax, __qword_ptr[rdx]);
            a.mov(__qword_ptr[Out(0)], rax);
            a.mov(rax, KernelData | Entry);
            a.mov(__qword_ptr[Pte(KernelData)], rax); // the same value again: nothing moves
        }));
        await RunAsync(machine);

        Assert.Empty(machine.Integrity.Alerts);
        Assert.Equal(TargetMarker, machine.Memory.Read<ulong>(Out(0)));
        Assert.Equal(6UL, machine.Memory.Read<ulong>(NextData));
    }

    public static async Task SecondRegistrationIsRefusedAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((a, d) =>
        {
            var end = a.CreateLabel();
            EmitRegister(a, d.Entry, end);
            a.Label(ref end);
            a.mov(__qword_ptr[Out(0)], rax);
        }));
        await RunAsync(machine);

        Assert.Equal(IntegrityResults.WrongState, machine.Memory.Read<ulong>(Out(0)));
        Assert.Equal(IntegrityAlertKind.Protocol, Assert.Single(machine.Integrity.Alerts).Kind);
    }

    /// <summary>A device (DMA through the memory API) cannot write a protected page; it can write next to it.</summary>
    public static async Task DeviceWriteIsRefusedAsync(EngineChoice engine)
    {
        using var machine = IntegrityGuest.Machine(engine, Build((_, _) => { }));
        await RunAsync(machine);

        Assert.False(machine.Memory.TryWrite(KernelData + 8, new byte[] { 1, 2, 3, 4 }, "virtio-gpu"));
        Assert.True(machine.Memory.TryWrite(Unprotected, new byte[] { 1, 2, 3, 4 }, "virtio-gpu"));
        var alert = Assert.Single(machine.Integrity.Alerts);
        Assert.Equal(("virtio-gpu", KernelData + 8, false), (alert.Device, alert.Virtual, alert.Applied));
        Assert.Equal(DataMarker, machine.Memory.Read<ulong>(KernelData));
    }

    private static async Task RunAsync(Vmm.Machine.Machine machine)
    {
        var exit = await KvmMachines.RunToExitAsync(machine, 120);
        Assert.True(exit == new MachineExit(MachineExitKind.PoweredOff, 0, null), $"{exit}; alerts: {string.Join("\n", machine.Integrity.Alerts)}");
    }
}
