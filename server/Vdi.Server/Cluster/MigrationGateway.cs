using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Vdi.Vmm.Host;

namespace Vdi.Server.Cluster;

/// <summary>
/// Where desktops migrating from other hosts come in (<c>Vdi:Cluster:MigrationPort</c> at the advertised address). A
/// desktop's VMM listens for its migration on loopback only; the gateway is its one door from the cluster's network. A
/// source connects and presents its token first (the VMM's own protocol); the gateway finds the arrival the token was
/// issued for, connects to that VMM's loopback port, passes the token on and relays both ways until either side closes.
/// The VMM checks the token again, so the gateway holds no secret of its own. An unknown token, or none within 5 s,
/// closes the connection.
/// </summary>
public sealed class MigrationGateway(IOptions<ClusterSettings> settings, ILogger<MigrationGateway> log) : IHostedService, IDisposable
{
    private static readonly TimeSpan s_tokenWait = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, IPEndPoint> _expected = new();
    private readonly CancellationTokenSource _stop = new();
    private TcpListener? _listener;

    /// <summary>The address and port the other hosts send migrations to.</summary>
    public IPEndPoint? Endpoint { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var address = ClusterHosting.ResolveAddress(settings.Value);
        try
        {
            _listener = new TcpListener(address, settings.Value.MigrationPort);
            _listener.Start(16);
        }
        catch (SocketException e)
        {
            throw new Storage.StorageException($"Vdi:Cluster:MigrationPort {settings.Value.MigrationPort} on {address}: {e.Message}");
        }
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _ = Task.Run(AcceptLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Expects one migration presenting <paramref name="token"/> for the VMM listening at <paramref name="local"/>; the
    /// returned handle withdraws it.
    /// </summary>
    public IDisposable Expect(ReadOnlyMemory<byte> token, IPEndPoint local)
    {
        var key = Convert.ToHexString(token.Span);
        _expected[key] = local;
        return new Withdrawal(() => _expected.TryRemove(key, out _));
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                    return;
                continue;
            }
            _ = Task.Run(() => RelayAsync(client));
        }
    }

    private async Task RelayAsync(Socket client)
    {
        using var _ = client;
        client.NoDelay = true;
        var remote = client.RemoteEndPoint;
        try
        {
            await using var upstream = new NetworkStream(client, ownsSocket: false);
            var token = new byte[MigrateListenMessage.TokenLength];
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
            {
                wait.CancelAfter(s_tokenWait);
                await upstream.ReadExactlyAsync(token, wait.Token).ConfigureAwait(false);
            }
            // One use: the entry goes at its first presentation.
            if (!_expected.TryRemove(Convert.ToHexString(token), out var local))
            {
                ClusterLog.MigrationRefused(log, $"{remote}");
                return;
            }
            using var vmm = new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await vmm.ConnectAsync(local, _stop.Token).ConfigureAwait(false);
            await using var downstream = new NetworkStream(vmm, ownsSocket: false);
            await downstream.WriteAsync(token, _stop.Token).ConfigureAwait(false);
            CryptographicOperations.ZeroMemory(token);
            // Each direction until its end, passed on as a half-close: the source's last pages, then the VMM's answer.
            await Task.WhenAll(PipeAsync(upstream, downstream, vmm, 1 << 20), PipeAsync(downstream, upstream, client, 64 << 10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The migration's own ends report its failure; the gateway keeps serving.
        }
    }

    private async Task PipeAsync(NetworkStream from, NetworkStream to, Socket toSocket, int buffer)
    {
        try
        {
            await from.CopyToAsync(to, buffer, _stop.Token).ConfigureAwait(false);
            toSocket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One direction broken: both sockets close, so the other direction ends too.
            from.Socket.Close();
            toSocket.Close();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stop.Cancel();
        _listener?.Stop();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stop.Dispose();
        _listener?.Dispose();
    }

    private sealed class Withdrawal(Action withdraw) : IDisposable
    {
        public void Dispose() => withdraw();
    }
}
