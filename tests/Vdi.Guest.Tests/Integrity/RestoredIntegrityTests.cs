using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Kvm;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Guest.Tests.Integrity;

/// <summary>
/// A desktop with its integrity driver registered, written to a snapshot and restored into a fresh machine (on the same
/// engine and across), is protected from its first instruction: the same driver, the same ranges, the same traced
/// pages — and an attack typed after the restore is refused there.
/// </summary>
public sealed class RestoredIntegrityTests
{
    [Fact]
    public Task Software_to_software() => ProtectedAfterRestoreAsync(EngineChoice.Software, EngineChoice.Software);

    [Theory]
    [Trait("Requires", "kvm")]
    [InlineData(EngineChoice.Software, EngineChoice.Kvm)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Software)]
    public Task Across_engines(EngineChoice from, EngineChoice to) => ProtectedAfterRestoreAsync(from, to);

    private static async Task ProtectedAfterRestoreAsync(EngineChoice from, EngineChoice to)
    {
        using var source = await IntegrityDesktop.BootAsync(from, IntegrityLevel.Enforce);
        Assert.True(source.Machine.PauseAll(TimeSpan.FromSeconds(10)));
        using var file = new MemoryStream();
        await MachineSnapshot.SaveAsync(source.Machine, file);
        file.Position = 0;

        Vmm.Machine.Machine machine;
        try
        {
            machine = MachineBuilder.Build(source.Machine.Config with { Engine = to });
        }
        catch (KvmException e) when (e.DeviceUnavailable)
        {
            throw new InvalidOperationException($"this test runs a real VM and needs KVM: {e.Message}", e);
        }
        using var restored = IntegrityDesktop.Wrap(machine);
        await MigrationTarget.RestoreSnapshotAsync(machine, await MigrationTarget.ReadIdentityAsync(file), file);

        Assert.Equal(source.Integrity.Driver, restored.Integrity.Driver);
        Assert.Equal(source.Integrity.Protected, restored.Integrity.Protected);
        Assert.Equal(source.Machine.Tracer.TracedPageCount, restored.Machine.Tracer.TracedPageCount);
        machine.Start();
        Assert.EndsWith(": refused", await restored.RunCommandAsync("attack idt"), StringComparison.Ordinal);
        var alert = Assert.Single(restored.Integrity.Alerts);
        Assert.Equal((IntegrityAlertKind.ProtectedPage, ProtectionAction.Refuse, false), (alert.Kind, alert.Action, alert.Applied));
        await restored.TypeAsync("still here");
    }
}
