using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;

namespace Vdi.Guest.Tests.Integrity;

/// <summary>
/// The desktop guest with its integrity driver on KVM, where every traced page is a read-only memory slot: it registers
/// and protects its kernel (its page tables' accessed and dirty bits preset, its GDT's accessed bits set, so the
/// hardware never writes a traced page), and attacks typed in its terminal are caught as on the software engine
/// (<see cref="SoftwareDesktopIntegrityTests"/>), and without integrity it runs unprotected.
/// </summary>
[Trait("Requires", "kvm")]
public sealed class KvmDesktopIntegrityTests
{
    private const EngineChoice Engine = EngineChoice.Kvm;

    [Fact]
    public Task The_desktop_registers_its_driver_and_protects_its_kernel() => DesktopIntegrityCases.RegistersAndProtectsTheKernelAsync(Engine);

    [Theory]
    [MemberData(nameof(DesktopIntegrityCases.Attacks), MemberType = typeof(DesktopIntegrityCases))]
    public Task An_attack_typed_in_the_terminal_is_caught_and_the_desktop_works_on(string attack, IntegrityLevel level) =>
        DesktopIntegrityCases.AttackIsCaughtAsync(Engine, attack, level);

    [Fact]
    public Task With_integrity_off_the_desktop_runs_unprotected() => DesktopIntegrityCases.WithIntegrityOffTheDesktopRunsUnprotectedAsync(Engine);
}
