using System.Collections.Concurrent;

namespace Vdi.Server.Hubs;

/// <summary>The <see cref="ConnectionOwner"/> of every hub connection that asked for a session, by connection id.</summary>
public sealed class ConnectionOwners
{
    private readonly ConcurrentDictionary<string, ConnectionOwner> _owners = new();

    public int Count => _owners.Count;

    public ConnectionOwner? Get(string connectionId) => _owners.GetValueOrDefault(connectionId);

    /// <summary>Every registered owner at this moment (a snapshot; owners come and go meanwhile).</summary>
    public IReadOnlyCollection<ConnectionOwner> All => [.. _owners.Values];

    /// <summary>Registers the owner of a connection; false when that connection already has one (a second <c>Connect</c>).</summary>
    public bool TryAdd(ConnectionOwner owner) => _owners.TryAdd(owner.ConnectionId, owner);

    /// <summary>Forgets the owner of a connection (its connect failed, or the connection went away) and returns it.</summary>
    public ConnectionOwner? Remove(string connectionId) => _owners.TryRemove(connectionId, out var owner) ? owner : null;
}
