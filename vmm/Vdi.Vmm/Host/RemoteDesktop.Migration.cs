using System.Net;
using System.Net.Sockets;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

/// <summary>
/// Live migration of a served desktop. A destination host (`serve --incoming`) is asked to listen and says its port; a
/// source host is handed a loopback socket this side connected and presented the token on, so the sandboxed source
/// needs no socket calls of its own. Progress and results come back as frames on the receive thread.
/// </summary>
public sealed partial class RemoteDesktop
{
    private static readonly TimeSpan s_listenTimeout = TimeSpan.FromSeconds(10);
    private TaskCompletionSource<ushort>? _listening;
    private TaskCompletionSource<MigrationOutcome>? _migration; // the one migration, either way, under way
    private IProgress<MigrationProgress>? _migrationProgress;

    public async Task<IncomingMigration> AcceptMigrationAsync(ReadOnlyMemory<byte> token, CancellationToken cancellationToken = default)
    {
        if (token.Length != MigrateListenMessage.TokenLength)
            throw new ArgumentException($"a migration token is {MigrateListenMessage.TokenLength} bytes", nameof(token));
        var listening = new TaskCompletionSource<ushort>(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = BeginMigration(progress: null);
        Volatile.Write(ref _listening, listening);
        if (!_channel.Send(new MigrateListenMessage(token.ToArray())))
            throw new InvalidOperationException("the desktop host is gone");
        var answer = await Task.WhenAny(listening.Task, received, _completion.Task, Task.Delay(s_listenTimeout, cancellationToken)).ConfigureAwait(false);
        if (answer != listening.Task)
        {
            var why = answer == received ? (await received.ConfigureAwait(false)).Error : answer == _completion.Task ? "the desktop host ended" : "it did not answer";
            throw new InvalidOperationException($"the destination host did not listen for the migration: {why}");
        }
        return new IncomingMigration(new IPEndPoint(IPAddress.Loopback, await listening.Task.ConfigureAwait(false)), received);
    }

    public async Task<MigrationOutcome> MigrateToAsync(IPEndPoint endpoint, ReadOnlyMemory<byte> token, MigrationOptions options, IProgress<MigrationProgress>? progress,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var result = BeginMigration(progress);
        var (downtime, rounds) = Limits(options);
        await HandOverAsync(endpoint, token, new MigrateToMessage(downtime, rounds), "the destination", "the source host", cancellationToken).ConfigureAwait(false);
        return await result.ConfigureAwait(false);
    }

    /// <summary>The options as a MigrateTo or Checkpoint frame carries them.</summary>
    private static (uint DowntimeMs, ushort MaxRounds) Limits(MigrationOptions options) =>
        ((uint)Math.Clamp(options.DowntimeTarget.TotalMilliseconds, 1, MigrateToMessage.MaxDowntimeMs), (ushort)Math.Clamp(options.MaxRounds, 0, MigrateToMessage.MaxRoundsLimit));

    /// <summary>
    /// Connects to <paramref name="endpoint"/>, presents <paramref name="token"/>, and hands the socket to the host with
    /// <paramref name="frame"/>; a failure ends the migration under way with the reason.
    /// </summary>
    private async Task HandOverAsync(IPEndPoint endpoint, ReadOnlyMemory<byte> token, HostMessage frame, string peer, string self, CancellationToken cancellationToken)
    {
        // Connected and written with blocking calls only: the descriptor goes to the host as it is, and .NET's async
        // socket calls would leave it non-blocking.
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await Task.Run(() =>
            {
                socket.Connect(endpoint);
                var written = 0;
                while (written < token.Length)
                    written += socket.Send(token.Span[written..]);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            EndMigration(MigrationResultMessage.Failed($"could not reach {peer} at {endpoint}: {e.Message}").Outcome);
            return;
        }
        if (!_channel.Send(frame, (int)socket.SafeHandle.DangerousGetHandle()))
            EndMigration(MigrationResultMessage.Failed($"{self} is gone").Outcome);
    } // this side's descriptor closes; the host holds its own

    /// <summary>A task for the migration's result, which also ends (as a failure) if the host ends first.</summary>
    private Task<MigrationOutcome> BeginMigration(IProgress<MigrationProgress>? progress)
    {
        var migration = new TaskCompletionSource<MigrationOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _migration, migration, null) is not null)
            throw new InvalidOperationException("a migration is already under way on this desktop");
        _migrationProgress = progress;
        _ = _completion.Task.ContinueWith(t => EndMigration(MigrationResultMessage.Failed($"the desktop host ended: {t.Result.Reason}").Outcome), TaskScheduler.Default);
        return migration.Task;
    }

    private void EndMigration(MigrationOutcome outcome)
    {
        if (Interlocked.Exchange(ref _migration, null) is { } migration)
            migration.TrySetResult(outcome);
        _migrationProgress = null;
    }

    /// <summary>The receive thread's migration frames; false for any other frame. One nobody asked for breaks the protocol.</summary>
    private bool HandleMigration(HostMessage message)
    {
        switch (message)
        {
            case MigrationListeningMessage m:
                if (Interlocked.Exchange(ref _listening, null) is not { } listening)
                    throw new HostProtocolException("MigrationListening when no migration was asked for");
                listening.TrySetResult(m.Port);
                return true;
            case MigrationProgressMessage m:
                if (Volatile.Read(ref _migration) is null)
                    throw new HostProtocolException("MigrationProgress when no migration is under way");
                _migrationProgress?.Report(m.Progress);
                return true;
            case MigrationResultMessage m:
                if (Volatile.Read(ref _migration) is null)
                    throw new HostProtocolException("MigrationResult when no migration is under way");
                EndMigration(m.Outcome);
                return true;
            default:
                return false;
        }
    }
}
