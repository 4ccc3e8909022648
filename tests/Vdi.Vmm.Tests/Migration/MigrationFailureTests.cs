using Vdi.Vmm.Execution;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Tests.Migration;

/// <summary>A migration that fails at any step leaves the source running as it was, and the destination never started.</summary>
[Collection(MigrationCollection.Name)]
public sealed class MigrationFailureTests
{
    [Fact]
    public async Task A_connection_dropped_mid_round_leaves_the_source_running()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software);
        source.Start();
        var (outcome, error, _) = await AbMachines.MigrateAsync(source, destination, wrapSource: s => new DroppingStream(s, 20L << 20));
        Assert.False(outcome.Succeeded);
        Assert.Contains("dropped on purpose", outcome.Error, StringComparison.Ordinal);
        Assert.NotNull(error);
        await AssertSourceRunsOnAsync(source, destination);
    }

    [Fact]
    public async Task A_state_that_does_not_restore_is_refused_by_the_destination_and_the_source_resumes()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software);
        source.Start();
        var (outcome, error, _) = await AbMachines.MigrateAsync(source, destination, wrapSource: s => new StateDamagingStream(s));
        Assert.False(outcome.Succeeded);
        Assert.Contains("destination refused", outcome.Error, StringComparison.Ordinal);
        Assert.IsType<MigrationException>(error);
        await AssertSourceRunsOnAsync(source, destination);
    }

    [Fact]
    public async Task A_destination_that_dies_before_confirming_leaves_the_source_running()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software);
        source.Start();
        using var pair = await LoopbackPair.OpenAsync();
        var dies = Task.Run(async () =>
        {
            // Reads everything up to the state, then the process "dies": its end of the connection closes.
            while (await MigrationWire.ReadHeaderAsync(pair.Destination, CancellationToken.None) is var (kind, length))
            {
                await MigrationWire.ReadPayloadAsync(pair.Destination, length, CancellationToken.None);
                if (kind == MigrationMessage.State)
                    break;
            }
            pair.Destination.Close();
        });
        var outcome = await MigrationSource.SendAsync(source, pair.Source, new MigrationOptions { MaxRounds = 2 });
        await dies;
        Assert.False(outcome.Succeeded);
        Assert.Contains("went away", outcome.Error, StringComparison.Ordinal);
        await AssertSourceRunsOnAsync(source, destination);
    }

    [Fact]
    public async Task A_destination_that_fails_to_start_after_the_commit_leaves_the_source_running()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software);
        source.Start();
        using var pair = await LoopbackPair.OpenAsync();
        var receive = Task.Run(() => MigrationTarget.ReceiveAsync(destination, pair.Destination,
            _ => throw new InvalidOperationException("the host could not start its vCPUs"), TimeSpan.FromSeconds(30)));
        var outcome = await MigrationSource.SendAsync(source, pair.Source, new MigrationOptions { MaxRounds = 2 });
        Assert.False(outcome.Succeeded);
        Assert.Contains("could not start its vCPUs", outcome.Error, StringComparison.Ordinal);
        await Assert.ThrowsAsync<MigrationException>(() => receive);
        await AssertSourceRunsOnAsync(source, destination);
    }

    [Fact]
    public async Task A_cancelled_migration_leaves_the_source_running()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software);
        source.Start();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(30));
        var (outcome, error, _) = await AbMachines.MigrateAsync(source, destination, cancellationToken: cancel.Token);
        Assert.False(outcome.Succeeded);
        Assert.Equal("cancelled", outcome.Error);
        Assert.NotNull(error);
        await AssertSourceRunsOnAsync(source, destination);
    }

    [Fact]
    public async Task A_destination_of_another_size_refuses_at_the_hello()
    {
        using var source = AbMachines.Build(EngineChoice.Software);
        using var destination = AbMachines.Build(EngineChoice.Software, vcpus: 1);
        source.Start();
        var (outcome, error, _) = await AbMachines.MigrateAsync(source, destination);
        Assert.False(outcome.Succeeded);
        Assert.Contains("vCPU", outcome.Error, StringComparison.Ordinal);
        Assert.IsType<MigrationException>(error);
        await AssertSourceRunsOnAsync(source, destination);
    }

    private static async Task AssertSourceRunsOnAsync(Vmm.Machine.Machine source, Vmm.Machine.Machine destination)
    {
        Assert.Equal(MachineState.Running, source.State);
        Assert.False(source.Memory.DirtyLogging, "the source still logs its writes");
        Assert.False(source.Iommu.DirtyTracking, "the source's IOMMU still tracks DMA");
        await AbMachines.AssertRunsAsync(source);
        Assert.Equal(MachineState.Created, destination.State);
        source.Stop();
    }
}
