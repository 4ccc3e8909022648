using Vdi.Protocol;

namespace Vdi.Server.Sessions;

/// <summary>The broker's way to tell a connected client its session ended (the hub implements it per connection).</summary>
public interface ISessionClient
{
    Task SessionEndedAsync(SessionEnded ended);
}
