using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Host;

/// <summary>
/// Live migration on a served desktop: an incoming host (`serve --incoming`) receives into its unstarted machine over
/// the loopback listener it made before its sandbox, from the ONE connection that presents the broker's token; a
/// running host sends its machine over the connected socket the broker hands it. Both report a result frame.
/// </summary>
public sealed partial class DesktopHostServer
{
    private static readonly TimeSpan s_acceptTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_tokenTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_commitTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_progressInterval = TimeSpan.FromMilliseconds(100);
    private int _migrating; // one migration, either way, per host
    private int _migratedAway; // the machine now runs elsewhere: it is stopped, never powered off
    private Task? _reception; // writes guest memory: Run waits for it before the machine goes
    private volatile Socket? _receptionConnection;

    /// <summary>
    /// With `serve --incoming`: a TCP listener on 127.0.0.1 made before the sandbox (which refuses socket, bind and
    /// listen). The host then never boots its guest: Start is refused and the machine comes from a migration.
    /// </summary>
    public Socket? Incoming { get; init; }

    private void Listen(MigrateListenMessage listen)
    {
        if (Incoming is not { } listener)
        {
            Refuse(HostProtocol.ErrorRefused, "migrate-listen: this host was not started with --incoming");
            return;
        }
        if (_machine.State != MachineState.Created || Interlocked.Exchange(ref _migrating, 1) != 0)
        {
            Refuse(HostProtocol.ErrorState, $"migrate-listen: the machine is {_machine.State} or already receiving");
            return;
        }
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        Post(() => _channel.Send(new MigrationListeningMessage((ushort)port)));
        _reception = Task.Run(() => ReceiveAsync(listener, listen.Token));
    }

    private async Task ReceiveAsync(Socket listener, byte[] token)
    {
        Socket? connection = null;
        try
        {
            if (!listener.Poll((int)s_acceptTimeout.TotalMicroseconds, SelectMode.SelectRead))
                throw new MigrationException($"no source connected within {s_acceptTimeout.TotalSeconds:F0} s");
            connection = listener.Accept();
            _receptionConnection = connection;
            listener.Close(); // ONE connection: whoever comes next finds nothing listening
            using var stream = new FileStream(new SafeFileHandle(connection.SafeHandle.DangerousGetHandle(), ownsHandle: false), FileAccess.ReadWrite, bufferSize: 0);
            if (!ReadToken(connection, stream, token))
                throw new MigrationException("a connection did not present the migration token; closed"); // its address would take getpeername, which the sandbox refuses
            HostLog.Write(_log, "migration: the source connected and presented the token");
            var receipt = await MigrationTarget.ReceiveAsync(_machine, stream, StartMigratedAsync, s_commitTimeout).ConfigureAwait(false);
            Volatile.Write(ref _migrating, 0); // received: the desktop runs here now, and may move on again
            HostLog.Write(_log, $"migration: received {receipt.Pages} pages ({receipt.ZeroPages} zero), {receipt.StateBytes} state bytes in {receipt.Elapsed.TotalMilliseconds:F0} ms; the machine runs");
            Post(() => _channel.Send(new MigrationResultMessage(receipt.ToOutcome())));
        }
        catch (Exception e) when (e is MigrationException or IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            HostLog.Write(_log, $"migration refused: {e.Message}");
            Post(() => _channel.Send(MigrationResultMessage.Failed(e.Message)));
        }
        finally
        {
            listener.Close();
            connection?.Dispose();
        }
    }

    /// <summary>
    /// Before the machine is disposed: a reception still under way (a destination discarded mid-copy) is cut off, and
    /// waited for, so nothing writes guest memory once it is unmapped.
    /// </summary>
    private void EndReception()
    {
        Incoming?.Close();
        _receptionConnection?.Dispose();
        _ = _reception?.Wait(TimeSpan.FromSeconds(10));
    }

    /// <summary>Reads the 32-byte token within <see cref="s_tokenTimeout"/> and compares it in constant time.</summary>
    private static bool ReadToken(Socket connection, Stream stream, byte[] token)
    {
        var presented = new byte[MigrateListenMessage.TokenLength];
        var deadline = Stopwatch.StartNew();
        var read = 0;
        while (read < presented.Length)
        {
            var left = s_tokenTimeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !connection.Poll((int)left.TotalMicroseconds, SelectMode.SelectRead))
                return false;
            var n = stream.Read(presented, read, presented.Length - read);
            if (n == 0)
                return false;
            read += n;
        }
        return CryptographicOperations.FixedTimeEquals(presented, token);
    }

    /// <summary>The restored machine starts and is served as a started one is: Started, then its mode and a full frame.</summary>
    private Task StartMigratedAsync(Machine.Machine machine)
    {
        ReplayReceived(machine);
        machine.Start();
        Post(() =>
        {
            _channel.Send(new StartedMessage());
            Resynchronise();
        });
        return Task.CompletedTask;
    }

    private void MigrateTo(MigrateToMessage message, int descriptor)
    {
        if (descriptor < 0)
            throw new HostProtocolException("MigrateTo without the connected socket");
        var stream = new FileStream(new SafeFileHandle(descriptor, ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
        // An incoming host's machine runs once it was received: it may be sent on like any other.
        if (_machine.State != MachineState.Running || Interlocked.Exchange(ref _migrating, 1) != 0)
        {
            stream.Dispose();
            Refuse(HostProtocol.ErrorState, $"migrate-to: the machine is {_machine.State} or already migrating");
            Post(() => _channel.Send(MigrationResultMessage.Failed($"the source machine is {_machine.State} or already migrating")));
            return;
        }
        _ = Task.Run(async () =>
        {
            var progress = new ProgressFrames(this);
            MigrationOutcome outcome;
            try
            {
                var options = message.Options with { ProgressInterval = s_progressInterval }; // a frame at most every 100 ms, and each phase
                MigrationWarmup.RunOnceForSource(_machine.Config); // the save path compiled before the pause, not during it
                outcome = await MigrationSource.SendAsync(_machine, stream, options, progress, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
            {
                outcome = MigrationResultMessage.Failed(e.Message).Outcome;
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
            if (outcome.Succeeded)
                Volatile.Write(ref _migratedAway, 1);
            else
                Volatile.Write(ref _migrating, 0);
            HostLog.Write(_log, $"migration: {outcome}");
            Post(() => _channel.Send(new MigrationResultMessage(outcome)));
        });
    }

    /// <summary>Each report queued as a frame, in order, on the reporting thread (Progress&lt;T&gt; would post them out of order).</summary>
    private sealed class ProgressFrames(DesktopHostServer server) : IProgress<MigrationProgress>
    {
        public void Report(MigrationProgress value) => server.Post(() => server._channel.Send(new MigrationProgressMessage(value)));
    }
}
