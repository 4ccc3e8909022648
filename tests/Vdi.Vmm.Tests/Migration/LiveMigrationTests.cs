using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.Migration;

/// <summary>
/// The A-B guest (every vCPU incrementing a byte of every page of 64 MiB, the DMA exerciser writing records into a
/// window of other pages all the while) migrates live over loopback TCP; at the switch the destination's memory equals
/// the source's page for page, and the guest runs on.
/// </summary>
[Collection(MigrationCollection.Name)]
public sealed class LiveMigrationTests
{
    [Fact]
    public Task Software_to_software() => MigratesAsync(EngineChoice.Software, EngineChoice.Software);

    [Theory]
    [Trait("Requires", KvmMachines.Trait)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Kvm)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Software)]
    [InlineData(EngineChoice.Software, EngineChoice.Kvm)]
    public Task On_kvm(EngineChoice from, EngineChoice to) => MigratesAsync(from, to);

    private static async Task MigratesAsync(EngineChoice from, EngineChoice to)
    {
        using var source = AbMachines.Build(from);
        using var destination = AbMachines.Build(to);
        source.Start();
        await AbMachines.AssertRunsAsync(source);

        var (outcome, error, differing) = await AbMachines.MigrateAsync(source, destination);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Null(error);
        Assert.NotNull(differing);
        Assert.True(differing.Count == 0, $"{differing.Count} page(s) differ at the switch, first at 0x{differing.FirstOrDefault():X}: {outcome}");
        Assert.Equal(MachineState.Paused, source.State);
        Assert.True(outcome.Rounds >= 1 && outcome.PagesSent >= AbMachines.MemoryMiB * 256, outcome.ToString());
        Assert.True(outcome.ZeroPages > 0, "untouched RAM went as zero-page markers");
        Assert.True(outcome.DmaPages > 0, $"no page was found by the IOMMU's dirty bits alone: {outcome}");
        var recordsAtSwitch = source.Devices.DmaExerciser.Writes;
        Assert.True(recordsAtSwitch > 0, "the DMA exerciser wrote nothing");
        await AbMachines.AssertRunsAsync(destination);
        Assert.True(destination.Devices.DmaExerciser.Writes > recordsAtSwitch, "the destination's device did not carry on from the source's count");
        source.Stop();
        destination.Stop();
    }

    [Fact]
    public async Task Without_the_iommus_dirty_bits_the_pages_written_by_dma_are_lost()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software);
        source.Iommu.HarvestSwitchedOff = true; // the test-only switch: the CPU's log and the VMM's writes alone
        source.Start();
        await AbMachines.AssertRunsAsync(source);

        var (outcome, error, differing) = await AbMachines.MigrateAsync(source, destination);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Null(error);
        Assert.NotNull(differing);
        Assert.NotEmpty(differing);
        var window = (AbMachines.DmaWindow, AbMachines.DmaWindow + ((ulong)AbMachines.DmaWindowPages << 12));
        Assert.All(differing, page => Assert.InRange(page, window.Item1, window.Item2 - 1)); // only the device's pages
        Assert.Equal(0, outcome.DmaPages);
        source.Stop();
        destination.Stop();
    }
}
