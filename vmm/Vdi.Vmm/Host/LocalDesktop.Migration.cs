using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

/// <summary>Live migration of a desktop in this process, over loopback TCP, as a host process does it.</summary>
public sealed partial class LocalDesktop
{
    private static readonly TimeSpan s_acceptTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_tokenTimeout = TimeSpan.FromSeconds(5);
    private int _migrating;
    private bool _migratedAway;
    private readonly CancellationTokenSource _receptionStop = new();
    private Task? _reception; // writes guest memory: Dispose waits for it before unmapping

    public Task<IncomingMigration> AcceptMigrationAsync(ReadOnlyMemory<byte> token, CancellationToken cancellationToken = default)
    {
        if (token.Length != MigrateListenMessage.TokenLength)
            throw new ArgumentException($"a migration token is {MigrateListenMessage.TokenLength} bytes", nameof(token));
        if (_machine.State != MachineState.Created || Interlocked.Exchange(ref _migrating, 1) != 0)
            throw new InvalidOperationException($"the destination machine is {_machine.State} or already receiving");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1);
        var expected = token.ToArray();
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _receptionStop.Token);
        var received = ReceiveAsync(listener, expected, stop.Token);
        _reception = received.ContinueWith(_ => stop.Dispose(), TaskScheduler.Default);
        return Task.FromResult(new IncomingMigration((IPEndPoint)listener.LocalEndpoint, received));
    }

    private async Task<MigrationOutcome> ReceiveAsync(TcpListener listener, byte[] token, CancellationToken cancellationToken)
    {
        try
        {
            using var accepting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            accepting.CancelAfter(s_acceptTimeout);
            using var client = await listener.AcceptTcpClientAsync(accepting.Token).ConfigureAwait(false);
            listener.Stop(); // ONE connection
            var stream = client.GetStream();
            var presented = new byte[token.Length];
            using (var reading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                reading.CancelAfter(s_tokenTimeout);
                await stream.ReadExactlyAsync(presented, reading.Token).ConfigureAwait(false);
            }
            if (!CryptographicOperations.FixedTimeEquals(presented, token))
                throw new MigrationException($"a connection from {client.Client.RemoteEndPoint} did not present the migration token; closed");
            var receipt = await MigrationTarget.ReceiveAsync(_machine, stream, m =>
            {
                m.Start();
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _migrating, 0); // received: it runs here now, and may move on again
            return receipt.ToOutcome();
        }
        catch (Exception e) when (e is MigrationException or IOException or SocketException or OperationCanceledException or EndOfStreamException)
        {
            return MigrationResultMessage.Failed(e is OperationCanceledException ? "no source connected, or it did not present the token in time" : e.Message).Outcome;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>Ends a reception still under way (its listener, or its writes into guest memory) before the machine goes.</summary>
    private async Task EndReceptionAsync()
    {
        await _receptionStop.CancelAsync().ConfigureAwait(false);
        if (_reception is { } reception)
            await reception.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        _receptionStop.Dispose();
    }

    public async Task<MigrationOutcome> MigrateToAsync(IPEndPoint endpoint, ReadOnlyMemory<byte> token, MigrationOptions options, IProgress<MigrationProgress>? progress,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (_machine.State != MachineState.Running || Interlocked.Exchange(ref _migrating, 1) != 0)
            return MigrationResultMessage.Failed($"the source machine is {_machine.State} or already migrating").Outcome;
        var succeeded = false;
        try
        {
            using var client = new TcpClient(endpoint.AddressFamily) { NoDelay = true };
            try
            {
                await client.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                return MigrationResultMessage.Failed($"could not reach the destination at {endpoint}: {e.Message}").Outcome;
            }
            var stream = client.GetStream();
            await stream.WriteAsync(token, cancellationToken).ConfigureAwait(false);
            var outcome = await MigrationSource.SendAsync(_machine, stream, options, progress, cancellationToken).ConfigureAwait(false);
            succeeded = outcome.Succeeded;
            Volatile.Write(ref _migratedAway, succeeded);
            return outcome;
        }
        catch (IOException e)
        {
            return MigrationResultMessage.Failed(e.Message).Outcome;
        }
        finally
        {
            if (!succeeded)
                Volatile.Write(ref _migrating, 0);
        }
    }
}
