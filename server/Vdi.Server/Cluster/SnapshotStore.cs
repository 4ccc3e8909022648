using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Vdi.Protocol;
using Vdi.Server.Desktops;
using Vdi.Vmm.Host;
using Vdi.Vmm.Migration;

namespace Vdi.Server.Cluster;

/// <summary>
/// Desktops' live snapshots in a folder every host reaches (<c>Vdi:Cluster:SnapshotDirectory</c>), one file per desktop
/// (<c>{id}.vdisnap</c>, replaced atomically). A snapshot is taken the way a live migration sends a machine: the desktop's
/// host is asked to checkpoint to a loopback socket this host listens on, runs on while its memory is copied, pauses for
/// the last pages and its state, and resumes; what it sent is the file, in the snapshot format (the migration's
/// messages, then an end marker). A desktop restarted on another host after its host died is restored from its file by
/// sending it, as a migration, to a machine that was never booted.
/// </summary>
public sealed class SnapshotStore(IOptions<ClusterSettings> settings)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, SnapshotSummary> _taken = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, SemaphoreSlim> _transfers = new();

    /// <summary>
    /// One transfer of a desktop's machine at a time (its host process serves one): a snapshot and a move to another host
    /// wait for each other. Dispose the answer to let the next one go.
    /// </summary>
    public async Task<IDisposable> TransferAsync(Guid id)
    {
        var gate = _transfers.GetOrAdd(id, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync().ConfigureAwait(false);
        return new Release(gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                gate.Release();
        }
    }
    private static readonly TimeSpan s_transferTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Whether snapshots are kept (a folder is configured).</summary>
    public bool Enabled => settings.Value.SnapshotDirectory is { Length: > 0 };

    public string PathOf(Guid id) => Path.Combine(settings.Value.SnapshotDirectory ?? "", $"{id:N}.vdisnap");

    /// <summary>The desktop's latest snapshot (its pause and time when this host took it), or null when it has none.</summary>
    public SnapshotSummary? Latest(Guid id)
    {
        if (TakenAt(id) is not { } at)
            return null;
        var bytes = new FileInfo(PathOf(id)).Length;
        return _taken.TryGetValue(id, out var mine) && mine.TakenAt >= at.AddSeconds(-1) ? mine : new SnapshotSummary(at, null, null, bytes);
    }

    /// <summary>When the desktop's latest snapshot was taken, or null when it has none.</summary>
    public DateTimeOffset? TakenAt(Guid id) => Enabled && File.Exists(PathOf(id)) ? new DateTimeOffset(File.GetLastWriteTimeUtc(PathOf(id)), TimeSpan.Zero) : null;

    /// <summary>Forgets the desktop's snapshot (it stopped, or started afresh).</summary>
    public void Delete(Guid id)
    {
        if (!Enabled)
            return;
        _taken.TryRemove(id, out _);
        try
        {
            File.Delete(PathOf(id));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No folder yet, or the shared mount is away: nothing to forget, or it is forgotten by the next snapshot.
        }
    }

    /// <summary>
    /// Takes a live snapshot of the running desktop; returns null when taken, else why not. Only a desktop in a host
    /// process (not a fault-tolerant pair) can be snapshotted.
    /// </summary>
    public async Task<string?> TakeAsync(DesktopHost desktop)
    {
        ArgumentNullException.ThrowIfNull(desktop);
        if (!Enabled)
            return "no snapshot folder is configured";
        if (desktop.Desktop is not { } machine)
            return "the desktop is not running here (stopped, or moving to another host)";
        if (machine is not RemoteDesktop remote)
            return "only a desktop in a host process of its own is snapshotted";
        // Guest memory: readable by the broker's user only.
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(settings.Value.SnapshotDirectory!);
        else
            Directory.CreateDirectory(settings.Value.SnapshotDirectory!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var final = PathOf(desktop.Id);
        var part = $"{final}.{Environment.ProcessId}.part";
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var transfer = await TransferAsync(desktop.Id).ConfigureAwait(false);
        if (desktop.Desktop != remote)
            return "the desktop moved or stopped meanwhile";
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1);
        var token = MigrateListenMessage.NewToken();
        using var timeout = new CancellationTokenSource(s_transferTimeout);
        var receiving = ReceiveAsync(listener, token, part, timeout.Token);
        try
        {
            var outcome = await remote.CheckpointToAsync((IPEndPoint)listener.LocalEndpoint, token, new MigrationOptions(), timeout.Token).ConfigureAwait(false);
            await timeout.CancelAsync().ConfigureAwait(false); // the receiver's wait ends either way
            var received = await receiving.ConfigureAwait(false);
            if (!outcome.Succeeded || received is not null)
                return outcome.Error ?? received;
            File.Move(part, final, overwrite: true);
            _taken[desktop.Id] = new SnapshotSummary(DateTimeOffset.UtcNow, outcome.Downtime.TotalMilliseconds, clock.Elapsed.TotalMilliseconds, new FileInfo(final).Length);
            return null;
        }
        finally
        {
            File.Delete(part);
        }
    }

    /// <summary>Sends the desktop's snapshot to a machine never booted that listens at <paramref name="vmm"/> for <paramref name="token"/>.</summary>
    public async Task ReplayAsync(Guid id, IPEndPoint vmm, byte[] token)
    {
        ArgumentNullException.ThrowIfNull(token);
        using var timeout = new CancellationTokenSource(s_transferTimeout);
        await using var file = new FileStream(PathOf(id), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(vmm, timeout.Token).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync(token, timeout.Token).ConfigureAwait(false);
        while (true)
        {
            var (kind, length) = await MigrationWire.ReadHeaderAsync(file, timeout.Token).ConfigureAwait(false)
                ?? throw new MigrationException("the snapshot ends before the machine state");
            var payload = await MigrationWire.ReadPayloadAsync(file, length, timeout.Token).ConfigureAwait(false);
            await MigrationWire.WriteAsync(stream, kind, payload, timeout.Token).ConfigureAwait(false);
            if (kind == MigrationMessage.State)
                break;
        }
        await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
        await ExpectAsync(stream, MigrationMessage.Restored, timeout.Token).ConfigureAwait(false);
        await MigrationWire.WriteAsync(stream, MigrationMessage.Commit, ReadOnlyMemory<byte>.Empty, timeout.Token).ConfigureAwait(false);
        await ExpectAsync(stream, MigrationMessage.Running, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>The destination's side of a checkpoint, into a file: null once stored and answered, else why not.</summary>
    private static async Task<string?> ReceiveAsync(TcpListener listener, byte[] token, string path, CancellationToken cancellationToken)
    {
        try
        {
            using var client = await listener.AcceptTcpClientAsync(cancellationToken).ConfigureAwait(false);
            var stream = client.GetStream();
            var presented = new byte[token.Length];
            await stream.ReadExactlyAsync(presented, cancellationToken).ConfigureAwait(false);
            if (!CryptographicOperations.FixedTimeEquals(presented, token))
                return "the snapshot's connection presented the wrong token";
            var create = new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 20, Options = FileOptions.Asynchronous,
            };
            if (!OperatingSystem.IsWindows())
                create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            await using (var file = new FileStream(path, create))
            {
                while (true)
                {
                    var (kind, length) = await MigrationWire.ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false)
                        ?? throw new MigrationException("the desktop's host ended the snapshot before its machine state");
                    var payload = await MigrationWire.ReadPayloadAsync(stream, length, cancellationToken).ConfigureAwait(false);
                    if (kind == MigrationMessage.Abort)
                        throw new MigrationException($"the desktop's host abandoned the snapshot: {MigrationWire.ReadReason(payload)}");
                    if (kind is not (MigrationMessage.Hello or MigrationMessage.Pages or MigrationMessage.Pixels or MigrationMessage.State))
                        throw new MigrationException($"{kind} in a snapshot's stream");
                    await MigrationWire.WriteAsync(file, kind, payload, cancellationToken).ConfigureAwait(false);
                    if (kind == MigrationMessage.State)
                        break;
                }
                await MigrationWire.WriteAsync(file, MigrationMessage.End, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            // Answered as a destination would: the host resumes once it hears Running.
            await MigrationWire.WriteAsync(stream, MigrationMessage.Restored, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            await ExpectAsync(stream, MigrationMessage.Commit, cancellationToken).ConfigureAwait(false);
            await MigrationWire.WriteAsync(stream, MigrationMessage.Running, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception e) when (e is MigrationException or IOException or SocketException or OperationCanceledException)
        {
            return e is OperationCanceledException ? "the snapshot did not arrive in time" : e.Message;
        }
    }

    private static async Task ExpectAsync(Stream stream, MigrationMessage expected, CancellationToken cancellationToken)
    {
        var header = await MigrationWire.ReadHeaderAsync(stream, cancellationToken).ConfigureAwait(false);
        if (header is not var (kind, length) || kind != expected)
        {
            var why = header is (MigrationMessage.Abort, var n) ? $": {MigrationWire.ReadReason(await MigrationWire.ReadPayloadAsync(stream, n, cancellationToken).ConfigureAwait(false))}" : "";
            throw new MigrationException($"expected {expected}, got {header?.Kind.ToString() ?? "the end of the stream"}{why}");
        }
        _ = await MigrationWire.ReadPayloadAsync(stream, length, cancellationToken).ConfigureAwait(false);
    }
}
