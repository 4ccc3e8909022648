using Vdi.Protocol;

namespace Vdi.Server.Sessions;

/// <summary>
/// The broker's way to end a connected session's client (the hub implements it per connection): first the notice,
/// then the close, which stops everything the connection receives and, when asked, aborts the connection.
/// </summary>
public interface ISessionClient
{
    /// <summary>Tells the client why its session ended. Nothing else is sent to it from here on.</summary>
    Task SessionEndedAsync(SessionEnded ended);

    /// <summary>Stops the connection's frames and events; with <paramref name="abort"/>, closes the connection too.</summary>
    Task CloseAsync(bool abort) => Task.CompletedTask;
}
