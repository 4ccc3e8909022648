using System.Net;
using System.Net.Sockets;

namespace Vdi.Vmm.Migration;

/// <summary>
/// A loopback TCP connection for the two sides of a migration in one process (a rehearsal, a fault-tolerance resync,
/// the benchmarks and tests): <see cref="Source"/> writes to <see cref="Destination"/> and back, Nagle off.
/// </summary>
public sealed class LoopbackPair : IDisposable
{
    private readonly TcpClient _client;
    private readonly TcpClient _server;

    private LoopbackPair(TcpClient client, TcpClient server)
    {
        _client = client;
        _server = server;
        Source = client.GetStream();
        Destination = server.GetStream();
    }

    public NetworkStream Source { get; }

    public NetworkStream Destination { get; }

    public static async Task<LoopbackPair> OpenAsync(CancellationToken cancellationToken = default)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1);
        var client = new TcpClient { NoDelay = true };
        try
        {
            var accept = listener.AcceptTcpClientAsync(cancellationToken);
            await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellationToken).ConfigureAwait(false);
            var server = await accept.ConfigureAwait(false);
            server.NoDelay = true;
            return new LoopbackPair(client, server);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
    }
}
