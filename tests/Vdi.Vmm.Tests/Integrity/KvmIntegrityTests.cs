using Vdi.Vmm.Execution;
using Vdi.Vmm.Integrity;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.Integrity;

/// <summary>
/// Guest integrity on KVM (read-only slots for every traced page): a driver registers its protected-page tree; writes to protected code, the
/// IDT, a page-table entry on a protected path, the tree, and integrity-mode hypercalls from the wrong place are each
/// caught with the right alert and action, while unprotected writes next to them are not: the cases of
/// <see cref="SoftwareIntegrityTests"/>.
/// </summary>
[Trait("Requires", KvmMachines.Trait)]
public sealed class KvmIntegrityTests
{
    private const EngineChoice Engine = EngineChoice.Kvm;

    [Fact]
    public Task Registration_protects_what_the_tree_names() => IntegrityCases.RegistrationProtectsTheTreeAsync(Engine);

    [Theory]
    [InlineData(IntegrityLevel.Enforce)]
    [InlineData(IntegrityLevel.Audit)]
    public Task A_write_to_protected_code_is_refused_or_audited(IntegrityLevel level) => IntegrityCases.CodeWriteIsRefusedAsync(Engine, level);

    [Fact]
    public Task A_write_to_the_IDT_is_alerted_and_lands() => IntegrityCases.IdtWriteIsAlertedAndLandsAsync(Engine);

    [Fact]
    public Task A_remap_of_a_protected_page_is_caught_without_a_protected_page_written() => IntegrityCases.RemapOfAProtectedPageIsCaughtAsync(Engine);

    [Fact]
    public Task A_protection_change_outside_integrity_mode_is_refused() => IntegrityCases.ProtectionChangeOutsideIntegrityModeIsRefusedAsync(Engine);

    [Fact]
    public Task Integrity_mode_is_entered_only_from_the_entry_point() => IntegrityCases.EnteringAnywhereButTheEntryPointIsRefusedAsync(Engine);

    [Fact]
    public Task The_driver_changes_the_protected_set_through_its_entry_point() => IntegrityCases.TheDriverChangesTheSetThroughItsEntryPointAsync(Engine);

    [Fact]
    public Task Unprotected_writes_next_to_protected_ones_are_not_caught() => IntegrityCases.UnprotectedNeighboursAreNotCaughtAsync(Engine);

    [Fact]
    public Task A_second_registration_is_refused() => IntegrityCases.SecondRegistrationIsRefusedAsync(Engine);

    [Fact]
    public Task A_device_cannot_write_a_protected_page() => IntegrityCases.DeviceWriteIsRefusedAsync(Engine);

    [Fact]
    public Task While_one_vCPU_is_in_privileged_mode_the_others_stand_still() => PrivilegedModeCases.OthersStandStillAsync(Engine, cycles: 20, spin: 5_000);

    [Fact]
    public Task A_thousand_privileged_mode_cycles_on_four_vCPUs_finish() => PrivilegedModeCases.ManyCyclesOnFourVcpusAsync(Engine, cyclesPerVcpu: 250);
}
