using System.Net;
using Vdi.Vmm.FaultTolerance;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

/// <summary>
/// A fault-tolerant desktop's host seen from the broker (<see cref="FaultTolerantDesktop"/> drives it): the journal
/// frames it sends (a primary's entries, outputs and safe count; a secondary's outputs and position), the points in
/// that stream (Checkpointed, Promoted), and the frames that feed, promote and checkpoint it.
/// </summary>
public sealed partial class RemoteDesktop
{
    private long _journalCount;

    /// <summary>
    /// A journal frame, on the receive thread, in the host's order: its entries, its outputs, and its count (the safe
    /// count of a primary, the position of a secondary; never going back).
    /// </summary>
    public event Action<RemoteDesktop, IReadOnlyList<JournalEntry>, IReadOnlyList<GuestOutput>, long>? JournalReceived;

    /// <summary>A primary paused at this count for the checkpoint a new secondary starts from (after the frames up to it).</summary>
    public event Action<RemoteDesktop, long>? Checkpointed;

    /// <summary>A secondary took over at this count (after its outputs up to it).</summary>
    public event Action<RemoteDesktop, long>? Promoted;

    /// <summary>The last count a journal frame carried.</summary>
    public long JournalCount => Volatile.Read(ref _journalCount);

    /// <summary>Feeds a secondary the primary's entries (in frames of at most <see cref="JournalFeedMessage.MaxEntries"/>); false when the host is gone.</summary>
    public bool Feed(IReadOnlyList<JournalEntry> entries, long safeThrough)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var sent = 0;
        do
        {
            var n = Math.Min(JournalFeedMessage.MaxEntries, entries.Count - sent);
            var slice = entries is List<JournalEntry> list ? list.GetRange(sent, n) : entries.Skip(sent).Take(n).ToList();
            if (!_channel.Send(new JournalFeedMessage(safeThrough, slice)))
                return false;
            sent += n;
        }
        while (sent < entries.Count);
        return true;
    }

    /// <summary>Tells a secondary the primary is gone: it replays what it was fed, then takes over (<see cref="Promoted"/>).</summary>
    public bool Promote() => _channel.Send(new ControlMessage(HostMessageType.Promote));

    /// <summary>
    /// Checkpoints this primary into the secondary listening at <paramref name="endpoint"/> (it presents
    /// <paramref name="token"/>): the live migration's transfer, after which the primary runs on. <see cref="Checkpointed"/>
    /// is raised before this completes with the outcome.
    /// </summary>
    public async Task<MigrationOutcome> CheckpointToAsync(IPEndPoint endpoint, ReadOnlyMemory<byte> token, MigrationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var result = BeginMigration(progress: null);
        var (downtime, rounds) = Limits(options);
        await HandOverAsync(endpoint, token, new CheckpointMessage(downtime, rounds), "the new secondary", "the primary's host", cancellationToken).ConfigureAwait(false);
        return await result.ConfigureAwait(false);
    }

    /// <summary>The receive thread's fault-tolerance frames; false for any other frame.</summary>
    private bool HandleJournal(HostMessage message)
    {
        switch (message)
        {
            case JournalMessage m:
                // Counts never go back; a frame that is not a batch's last says 0 (no new count).
                var count = Math.Max(JournalCount, m.Count);
                Volatile.Write(ref _journalCount, count);
                JournalReceived?.Invoke(this, m.Entries, m.Outputs, count);
                return true;
            case JournalPointMessage { Kind: HostMessageType.Checkpointed } m:
                if (Volatile.Read(ref _migration) is null)
                    throw new HostProtocolException("Checkpointed when no checkpoint is under way");
                Checkpointed?.Invoke(this, m.Count);
                return true;
            case JournalPointMessage { Kind: HostMessageType.Promoted } m:
                Promoted?.Invoke(this, m.Count);
                return true;
            default:
                return false;
        }
    }
}
