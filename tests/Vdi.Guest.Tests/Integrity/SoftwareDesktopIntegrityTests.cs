using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;

namespace Vdi.Guest.Tests.Integrity;

/// <summary>
/// The desktop guest with its integrity driver on the software engine: it registers and protects its kernel, each
/// attack typed in its terminal is caught (refused in enforce mode, landing in audit mode) and the desktop works on;
/// without integrity it runs unprotected.
/// </summary>
public sealed class SoftwareDesktopIntegrityTests
{
    private const EngineChoice Engine = EngineChoice.Software;

    [Fact]
    public Task The_desktop_registers_its_driver_and_protects_its_kernel() => DesktopIntegrityCases.RegistersAndProtectsTheKernelAsync(Engine);

    [Theory]
    [MemberData(nameof(DesktopIntegrityCases.Attacks), MemberType = typeof(DesktopIntegrityCases))]
    public Task An_attack_typed_in_the_terminal_is_caught_and_the_desktop_works_on(string attack, IntegrityLevel level) =>
        DesktopIntegrityCases.AttackIsCaughtAsync(Engine, attack, level);

    [Fact]
    public Task With_integrity_off_the_desktop_runs_unprotected() => DesktopIntegrityCases.WithIntegrityOffTheDesktopRunsUnprotectedAsync(Engine);
}
