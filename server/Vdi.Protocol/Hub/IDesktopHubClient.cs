namespace Vdi.Protocol;

/// <summary>
/// The server → client calls of the desktop hub, for a strongly typed hub (<c>Hub&lt;IDesktopHubClient&gt;</c>)
/// and for the client's handler registration (<c>nameof(IDesktopHubClient.FrameUpdate)</c>).
/// Method names are the wire names.
/// </summary>
public interface IDesktopHubClient
{
    Task FrameUpdate(FrameUpdate frame);

    Task CursorUpdate(CursorUpdate cursor);

    Task CursorMove(CursorMove move);

    Task ModeChanged(ModeChanged mode);

    Task SessionEnded(SessionEnded ended);
}
