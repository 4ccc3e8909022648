using System.Collections.Concurrent;
using System.Net;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Storage;
using Vdi.Vmm.Migration;

namespace Vdi.Server.Cluster;

/// <summary>
/// This host's side of a desktop moving between hosts (<see cref="DesktopGrain.MoveAsync"/> drives both sides). While
/// a desktop arrives here or departs from here, its record still names the source, and the supervisor's reconcile
/// leaves it alone.
/// </summary>
public sealed partial class ClusterDesktops
{
    private readonly ConcurrentDictionary<Guid, byte> _moving = new();
    private readonly ConcurrentDictionary<Guid, (Task<string?> Arrived, IDisposable Expected)> _arrivals = new();

    /// <summary>How the desktops leave: the default migration options (the 50 ms downtime target).</summary>
    private static readonly MigrationOptions s_moveOptions = new();

    public async Task<ArrivalTicket> PrepareArrivalAsync(Guid id)
    {
        var record = await LoadAsync(id).ConfigureAwait(false) ?? throw new InvalidOperationException($"desktop {id} does not exist");
        if (gateway.Endpoint is not { } door)
            throw new InvalidOperationException("this host's migration gateway is not listening");
        if (!_moving.TryAdd(id, 0))
            throw new InvalidOperationException($"desktop '{record.Name}' is already moving here or away");
        try
        {
            var host = pool.Add(record);
            var (token, local, arrived) = await host.PrepareArrivalAsync().ConfigureAwait(false);
            _arrivals[id] = (arrived, gateway.Expect(token, local));
            // An arrival that fails (nothing came within its wait, say the host driving the move died) is cleared here
            // even if no EndArrival follows.
            _ = arrived.ContinueWith(t => t.IsCompletedSuccessfully && t.Result is null ? Task.CompletedTask : EndArrivalAsync(id, keep: false), TaskScheduler.Default).Unwrap();
            return new ArrivalTicket(door.Address.ToString(), door.Port, token);
        }
        catch
        {
            _moving.TryRemove(id, out _);
            if (pool.Get(id) is { State: not (Desktops.DesktopState.Running or Desktops.DesktopState.Starting) })
                await pool.RemoveAsync(id).ConfigureAwait(false);
            throw;
        }
    }

    public async Task<string?> AwaitArrivalAsync(Guid id) =>
        _arrivals.TryGetValue(id, out var arrival) ? await arrival.Arrived.ConfigureAwait(false) : "no arrival was prepared for it here";

    public async Task EndArrivalAsync(Guid id, bool keep)
    {
        if (_arrivals.TryRemove(id, out var arrival))
            arrival.Expected.Dispose();
        if (!keep && pool.Get(id) is { } host)
        {
            await host.StopAsync("The desktop's move here failed.").ConfigureAwait(false);
            await pool.RemoveAsync(id).ConfigureAwait(false);
        }
        _moving.TryRemove(id, out _);
    }

    public async Task<MigrationStatus> DepartAsync(Guid id, ArrivalTicket ticket)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var host = pool.Get(id) ?? throw new InvalidOperationException($"desktop {id} does not run on {Me}");
        if (!_moving.TryAdd(id, 0))
            throw new InvalidOperationException($"desktop '{host.Name}' is already moving");
        MigrationStatus? status = null;
        try
        {
            using (await snapshots.TransferAsync(id).ConfigureAwait(false)) // after a snapshot under way
                status = await host.DepartAsync(new IPEndPoint(IPAddress.Parse(ticket.Address), ticket.Port), ticket.Token, s_moveOptions).ConfigureAwait(false);
            return status;
        }
        finally
        {
            if (status?.Result != MigrationStatus.Succeeded)
                _moving.TryRemove(id, out _); // it stays here, as any other desktop
        }
    }

    public async Task FinishDepartureAsync(Guid id, string? movedTo)
    {
        try
        {
            if (pool.Get(id) is not { } host)
                return;
            await host.FinishDepartureAsync(movedTo).ConfigureAwait(false);
            if (movedTo is not null)
                await pool.RemoveAsync(id).ConfigureAwait(false);
        }
        finally
        {
            _moving.TryRemove(id, out _);
        }
    }

    /// <summary>The desktops whose record names this host (what a drain moves away or unplaces).</summary>
    public async Task<List<DesktopRecord>> PlacedHereAsync(string host)
    {
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<VdiDbContext>().Desktops.AsNoTracking().Where(d => d.HostName == host)
            .OrderBy(d => d.Name).ToListAsync().ConfigureAwait(false);
    }
}
