namespace Vdi.Vmm.Migration;

/// <summary>The other side's next message on a migration stream, read in the background while this side sends.</summary>
internal static class PeerMessage
{
    /// <summary>The next message with its payload; null when the stream ended cleanly.</summary>
    public static async Task<(MigrationMessage Kind, byte[] Payload)?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        if (await MigrationWire.ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false) is not var (kind, length))
            return null;
        return (kind, await MigrationWire.ReadPayloadAsync(stream, length, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Throws when the peer already answered (only an abort or an end can come this early).</summary>
    public static void ThrowIfAnswered(Task<(MigrationMessage Kind, byte[] Payload)?> peer, string when)
    {
        if (peer.IsCompleted)
            throw Unexpected(peer, when, expected: null);
    }

    /// <summary>Waits for <paramref name="expected"/>; an abort, another message, an end or the timeout throws.</summary>
    public static async Task ExpectAsync(Task<(MigrationMessage Kind, byte[] Payload)?> peer, MigrationMessage expected, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var done = await Task.WhenAny(peer, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (done != peer)
            throw new MigrationException($"the destination did not answer {what} (waited {timeout.TotalSeconds:F0} s)");
        if (peer.IsCompletedSuccessfully && peer.Result is { } m && m.Kind == expected)
            return;
        throw Unexpected(peer, what, expected);
    }

    /// <summary>Why an answered peer ended the migration, in one line.</summary>
    public static string Describe(Task<(MigrationMessage Kind, byte[] Payload)?> peer, string when) => Unexpected(peer, when, expected: null).Message;

    private static MigrationException Unexpected(Task<(MigrationMessage Kind, byte[] Payload)?> peer, string when, MigrationMessage? expected)
    {
        if (peer.IsFaulted)
            return new MigrationException($"the stream to the destination failed {when}: {peer.Exception!.InnerException!.Message}", peer.Exception.InnerException);
        if (peer.IsCanceled)
            return new MigrationException("cancelled");
        return peer.Result switch
        {
            null => new MigrationException($"the destination went away {when}"),
            ({ } kind, var payload) when kind == MigrationMessage.Abort => new MigrationException($"the destination refused {when}: {MigrationWire.ReadReason(payload)}"),
            ({ } kind, _) => new MigrationException($"the destination sent {kind} {when}{(expected is { } e ? $", not {e}" : "")}"),
        };
    }
}
