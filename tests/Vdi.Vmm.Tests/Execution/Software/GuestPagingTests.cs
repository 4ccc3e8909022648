using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using static Vdi.Vmm.Tests.Execution.Software.PagingGuest;

namespace Vdi.Vmm.Tests.Execution.Software;

/// <summary>
/// Guests on their own page tables, on the software engine: 4 KiB, 2 MiB and 1 GiB pages, remapping with
/// <c>invlpg</c>, page faults with CR2 and the architectural error code (not present, write to read-only with CR0.WP,
/// NX fetch, reserved bit), faulting instructions that restart cleanly, accessed and dirty bits, #DF and shutdown.
/// </summary>
public sealed class GuestPagingTests
{
    [Fact]
    public async Task A_guest_on_its_own_4k_tables_runs_code_stack_idt_and_data_and_reads_through_a_2m_page()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.OwnTables, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(MachineExitKind.PoweredOff, exit.Kind);
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal([Marker, Marker, OtherMarker], r[32..35]);
            Assert.Equal(0UL, r[Faults]);
        }
    }

    [Fact]
    public async Task A_1g_page_maps_a_whole_gigabyte()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.HugePage, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal(Marker, r[32]);
            Assert.Equal(Accessed, machine.Memory.Read<ulong>(Pdpt + 8) & (Accessed | Dirty));
        }
    }

    [Fact]
    public async Task The_walk_sets_accessed_bits_on_every_level_and_dirty_only_on_written_leaves()
    {
        var (_, _, machine) = await RunAsync(PagingScenarios.OwnTables, EngineChoice.Software);
        using (machine)
        {
            var m = machine.Memory;
            Assert.Equal(Accessed, m.Read<ulong>(Pml4) & Accessed);
            Assert.Equal(Accessed, m.Read<ulong>(Pdpt) & Accessed);
            Assert.Equal(Accessed, m.Read<ulong>(Pd) & Accessed);
            Assert.Equal(Accessed | Dirty, m.Read<ulong>(Pte(Data)) & (Accessed | Dirty));
            Assert.Equal(Accessed, m.Read<ulong>(Pte(ReadOnly)) & (Accessed | Dirty));
            Assert.Equal(Accessed, m.Read<ulong>(Pd + 16) & (Accessed | Dirty));       // the 2 MiB page, read only
            Assert.Equal(0UL, m.Read<ulong>(Pte(Unmapped)));                          // never walked to
        }
    }

    [Fact]
    public async Task A_page_remapped_and_invalidated_reads_the_new_frame()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.RemapAfterInvlpg, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal([Marker, OtherMarker], r[32..34]);
        }
    }

    [Fact]
    public async Task A_not_present_read_faults_with_cr2_and_error_0_and_retries_after_the_handler_maps_the_page()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.NotPresentRead, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal(Unmapped, r[Cr2]);
            Assert.Equal(0UL, r[ErrorCode]);
            Assert.Equal(1UL, r[Faults]);
            Assert.Equal(Marker, r[32]);
        }
    }

    [Fact]
    public async Task A_write_to_a_read_only_page_with_wp_faults_with_write_and_present()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.ReadOnlyWrite, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(14, exit.ExitCode);
            Assert.Equal(ReadOnly + 16, r[Cr2]);
            Assert.Equal(3UL, r[ErrorCode]);
            Assert.Equal(OtherMarker, machine.Memory.Read<ulong>(OtherPhysical)); // nothing written
            Assert.Equal(0UL, machine.Memory.Read<ulong>(OtherPhysical + 16));
        }
    }

    [Fact]
    public async Task Without_wp_the_same_write_succeeds()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.ReadOnlyWriteWithoutWp, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal(ReadOnly, r[32]);
            Assert.Equal(ReadOnly, machine.Memory.Read<ulong>(OtherPhysical + 16));
        }
    }

    [Fact]
    public async Task A_fetch_from_a_no_execute_page_faults_with_the_instruction_fetch_bit()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.NoExecuteFetch, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(14, exit.ExitCode);
            Assert.Equal(0x10_3000UL, r[Cr2]);
            Assert.Equal(0x11UL, r[ErrorCode]); // I/D | P
            Assert.Equal(0x10_3000UL, r[SavedRip]);
        }
    }

    [Fact]
    public async Task A_reserved_address_bit_faults_with_rsvd()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.ReservedBit, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(14, exit.ExitCode);
            Assert.Equal(Unmapped, r[Cr2]);
            Assert.Equal(9UL, r[ErrorCode]); // RSVD | P
        }
    }

    [Fact]
    public async Task A_push_that_faults_leaves_rsp_unchanged_and_retries()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.FaultingPush, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal(1UL, r[Faults]);
            Assert.Equal(r[33], r[SavedRsp]);  // RSP at the fault: as before the push
            Assert.Equal(Marker, r[32]);
            Assert.Equal(r[33], r[34]);        // and balanced after push and pop
        }
    }

    [Fact]
    public async Task A_rep_stos_that_faults_midway_stops_at_the_faulting_element_and_finishes_after_the_handler()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.StringAcrossPages, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal(PagingScenarios.StringPage + 0x1000, r[Cr2]);
            Assert.Equal(2UL, r[ErrorCode]);   // a write, not present
            Assert.Equal(32UL, r[Rcx]);
            Assert.Equal(PagingScenarios.StringPage + 0x1000, r[Rdi]);
            Assert.Equal([0UL, PagingScenarios.StringPage + 0xF00 + 512], r[32..34]);
            Assert.Equal(0x99UL, machine.Memory.Read<ulong>(PagingScenarios.StringPage + 0x10F8));
        }
    }

    [Fact]
    public async Task A_page_fault_while_delivering_a_page_fault_is_a_double_fault()
    {
        var (exit, r, machine) = await RunAsync(PagingScenarios.PageFaultDuringPageFault, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(8, exit.ExitCode);
            Assert.Equal(1UL, r[DoubleFaults]);
            Assert.Equal(0UL, r[DoubleFaultError]);
            Assert.Equal(Unmapped, r[Cr2]); // the first fault's: the one met reading gate 14 became #DF (as under KVM)
        }
    }

    [Fact]
    public async Task A_fault_pushing_the_frame_of_a_double_fault_shuts_the_vcpu_down()
    {
        var (exit, _, machine) = await RunAsync(PagingScenarios.UnmappedStack, EngineChoice.Software);
        using (machine)
            Assert.Equal(MachineExitKind.Crashed, exit.Kind); // a triple fault
    }

    [Fact]
    public async Task Clearing_cr0_pg_in_long_mode_raises_gp()
    {
        var (exit, _, machine) = await RunAsync(PagingScenarios.PagingOff, EngineChoice.Software);
        using (machine)
            Assert.Equal(13, exit.ExitCode);
    }

    [Fact]
    public async Task A_cr4_feature_the_engine_does_not_model_stops_the_machine_naming_it()
    {
        var (exit, _, machine) = await RunAsync(PagingScenarios.Smep, EngineChoice.Software);
        using (machine)
        {
            Assert.Equal(MachineExitKind.Crashed, exit.Kind);
            Assert.Contains("CR4", exit.Crash!.Reason, StringComparison.Ordinal);
        }
    }
}
