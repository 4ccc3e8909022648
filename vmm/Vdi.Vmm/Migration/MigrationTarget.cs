using System.Buffers.Binary;
using System.Diagnostics;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Migration;

/// <summary>
/// The receiving side of a live migration, and the reader of snapshot files: memory and state into a machine built
/// from the same configuration and not started. Every address, count and length from the stream is checked; a
/// stream that breaks a rule, or a state that does not restore, is refused (the source is told why) and the machine
/// is left unstarted, for the caller to discard.
/// </summary>
public static class MigrationTarget
{
    /// <summary>
    /// Receives a live migration into <paramref name="machine"/>: memory, then state; says it restored; on the source's
    /// commit calls <paramref name="start"/> (which starts the machine and whatever serves it) and says it runs.
    /// </summary>
    public static async Task<MigrationReceipt> ReceiveAsync(Machine.Machine machine, Stream stream, Func<Machine.Machine, Task> start, TimeSpan commitTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(start);
        var elapsed = Stopwatch.StartNew();
        try
        {
            var identity = await ReadIdentityAsync(stream, cancellationToken).ConfigureAwait(false);
            var receipt = await ReceiveBodyAsync(machine, identity, stream, snapshot: false, elapsed, cancellationToken).ConfigureAwait(false);
            await MigrationWire.WriteAsync(stream, MigrationMessage.Restored, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            await PeerMessage.ExpectAsync(PeerMessage.ReadAsync(stream, cancellationToken), MigrationMessage.Commit, "before committing", commitTimeout, cancellationToken).ConfigureAwait(false);
            await start(machine).ConfigureAwait(false);
            await MigrationWire.WriteAsync(stream, MigrationMessage.Running, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            return receipt with { Elapsed = elapsed.Elapsed };
        }
        catch (Exception e) when (e is MigrationException or StateFormatException or IOException or InvalidOperationException or ArgumentException)
        {
            if (e is not IOException)
                await MigrationWire.TryWriteAbortAsync(stream, e.Message).ConfigureAwait(false);
            throw e as MigrationException ?? new MigrationException(e.Message, e);
        }
    }

    /// <summary>Reads the identity a stream starts with (a snapshot file's, to build the machine it restores into).</summary>
    public static async Task<MachineIdentity> ReadIdentityAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        if (await MigrationWire.ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false) is not (MigrationMessage.Hello, var length))
            throw new MigrationException("the stream does not start with a machine identity (Hello): not a migration or a snapshot");
        return MachineIdentity.Parse(await MigrationWire.ReadPayloadAsync(stream, length, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Restores a snapshot's memory and state (after <see cref="ReadIdentityAsync"/>) into an unstarted machine.</summary>
    public static async Task<MigrationReceipt> RestoreSnapshotAsync(Machine.Machine machine, MachineIdentity identity, Stream stream, CancellationToken cancellationToken = default)
    {
        try
        {
            return await ReceiveBodyAsync(machine, identity, stream, snapshot: true, Stopwatch.StartNew(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StateFormatException or InvalidOperationException or ArgumentException)
        {
            throw new MigrationException($"the snapshot does not restore: {e.Message}", e);
        }
    }

    private static async Task<MigrationReceipt> ReceiveBodyAsync(Machine.Machine machine, MachineIdentity identity, Stream stream, bool snapshot, Stopwatch elapsed, CancellationToken cancellationToken)
    {
        if (machine.State != Machine.MachineState.Created)
            throw new MigrationException($"the destination machine is {machine.State}; it must not have started");
        if (identity.Mismatch(machine) is { } mismatch)
            throw new MigrationException($"the machines differ: {mismatch}");
        long pages = 0, zeroPages = 0, bytes = 0;
        var memoryBytes = machine.Config.MemoryBytes;
        while (true)
        {
            if (await MigrationWire.ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false) is not var (kind, length))
                throw new MigrationException("the stream ended before the machine state");
            bytes += MigrationWire.HeaderBytes + length;
            var payload = await MigrationWire.ReadPayloadAsync(stream, length, cancellationToken).ConfigureAwait(false);
            switch (kind)
            {
                case MigrationMessage.Pages:
                    var (n, z) = WritePages(machine, payload, memoryBytes);
                    pages += n;
                    zeroPages += z;
                    break;
                case MigrationMessage.Pixels:
                    PixelMessage.Apply(payload, machine.Devices.Gpu);
                    break;
                case MigrationMessage.State:
                    var restoring = Stopwatch.StartNew();
                    var parsed = StateReader.Read(new MemoryStream(payload, writable: false));
                    machine.RestoreState(parsed);
                    restoring.Stop();
                    if (snapshot && await MigrationWire.ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false) is not (MigrationMessage.End, 0))
                        throw new MigrationException("the snapshot does not end after its machine state");
                    return new MigrationReceipt(identity, pages, zeroPages, bytes, length, elapsed.Elapsed, restoring.Elapsed);
                case MigrationMessage.Abort:
                    throw new MigrationException($"the source abandoned the migration: {MigrationWire.ReadReason(payload)}");
                default:
                    throw new MigrationException($"{kind} arrived before the machine state");
            }
        }
    }

    private static (long Pages, long Zero) WritePages(Machine.Machine machine, byte[] payload, ulong memoryBytes)
    {
        if (payload.Length < 4)
            throw new MigrationException("a Pages message without its count");
        var count = BinaryPrimitives.ReadUInt32LittleEndian(payload);
        if (count is 0 or > MigrationWire.MaxPagesPerMessage)
            throw new MigrationException($"a Pages message of {count} pages");
        var at = 4;
        long zeros = 0;
        var unwrittenIsZero = machine.State == Machine.MachineState.Created; // only the VMM wrote it, marking what it wrote
        for (var i = 0; i < count; i++)
        {
            if (payload.Length - at < 8)
                throw new MigrationException("a Pages message cut inside a page entry");
            var word = BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(at));
            at += 8;
            var address = word & ~(ulong)(MigrationWire.PageSize - 1);
            if ((word & (MigrationWire.PageSize - 1) & ~MigrationWire.ZeroPageFlag) != 0 || address >= memoryBytes)
                throw new MigrationException($"a page entry 0x{word:X} outside the machine's {memoryBytes >> 20} MiB of RAM");
            if ((word & MigrationWire.ZeroPageFlag) != 0)
            {
                if (!machine.Memory.ClearPage(address, unwrittenIsZero))
                    throw new MigrationException($"page 0x{address:X} is not RAM");
                zeros++;
                continue;
            }
            if (payload.Length - at < MigrationWire.PageSize)
                throw new MigrationException("a Pages message cut inside a page");
            machine.Memory.WriteUntraced(address, payload.AsSpan(at, MigrationWire.PageSize));
            at += MigrationWire.PageSize;
        }
        if (at != payload.Length)
            throw new MigrationException("a Pages message longer than its pages");
        return (count, zeros);
    }
}
