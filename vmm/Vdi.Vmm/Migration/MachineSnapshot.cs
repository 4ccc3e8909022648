namespace Vdi.Vmm.Migration;

/// <summary>
/// A machine written to a file in the migration stream's format: its identity, every page of RAM (zero pages as
/// markers), its state, and an end marker. <see cref="MigrationTarget.ReadIdentityAsync"/> and
/// <see cref="MigrationTarget.RestoreSnapshotAsync"/> read it back.
/// </summary>
public static class MachineSnapshot
{
    /// <summary>Writes a paused (or not yet started, or ended) machine to <paramref name="stream"/>.</summary>
    public static async Task<SnapshotFigures> SaveAsync(Machine.Machine machine, Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        if (machine.State == Machine.MachineState.Running)
            throw new InvalidOperationException("the machine is running: pause it before taking a snapshot");
        machine.QuiesceDevices(true); // input arriving meanwhile waits in its device and is saved with it
        try
        {
            return await WriteAsync(machine, stream, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            machine.QuiesceDevices(false);
        }
    }

    private static async Task<SnapshotFigures> WriteAsync(Machine.Machine machine, Stream stream, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var hello = MachineIdentity.Of(machine).ToBytes();
        await MigrationWire.WriteAsync(stream, MigrationMessage.Hello, hello, cancellationToken).ConfigureAwait(false);
        var sender = new PageSender(machine.Memory, stream);
        await sender.SendAsync(DirtyTracker.All((long)(machine.Config.MemoryBytes / MigrationWire.PageSize)), null, cancellationToken).ConfigureAwait(false);
        var state = machine.SaveState();
        await MigrationWire.WriteStateAsync(stream, state, cancellationToken).ConfigureAwait(false);
        await MigrationWire.WriteAsync(stream, MigrationMessage.End, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        return new SnapshotFigures(sender.Pages, sender.ZeroPages, MigrationWire.HeaderBytes + hello.Length + sender.Bytes + (2 * MigrationWire.HeaderBytes) + state.Length, state.Length, started.Elapsed);
    }
}

/// <summary>What a snapshot holds and how long it took.</summary>
public sealed record SnapshotFigures(long Pages, long ZeroPages, long Bytes, long StateBytes, TimeSpan Elapsed);
