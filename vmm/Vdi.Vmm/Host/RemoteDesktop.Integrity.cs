using Vdi.Vmm.Integrity;

namespace Vdi.Vmm.Host;

/// <summary>
/// A served desktop's integrity: the host's status, alert and suppressed-count frames feed an <see cref="IntegrityFeed"/>
/// (which rate-limits the alerts again: the host is not trusted to); level changes go out as frames.
/// </summary>
public sealed partial class RemoteDesktop
{
    private readonly IntegrityFeed _integrity = new(IntegrityLevel.Off); // the host's status follows its welcome

    public IntegrityFeed Integrity => _integrity;

    /// <summary>Sends the change; the host confirms with a status frame, or refuses with an error frame (code 4, text starting <c>integrity:</c>).</summary>
    public string? SetIntegrityLevel(IntegrityLevel level)
    {
        if (IntegrityFeed.CheckLiveChange(_integrity.Level, level) is { } refused)
            return refused;
        if (!_channel.Send(new SetIntegrityLevelMessage(level)))
            return "the desktop host is gone";
        _integrity.SetLevel(level);
        return null;
    }

    /// <summary>The receive thread's integrity frames; false for any other frame.</summary>
    private bool HandleIntegrity(HostMessage message)
    {
        switch (message)
        {
            case IntegrityStatusMessage m:
                _integrity.SetStatus(m.Level, m.DriverRegistered, m.Ranges, m.Total);
                return true;
            case IntegrityAlertMessage m:
                _integrity.Offer(m.Alert);
                return true;
            case IntegritySuppressedMessage m:
                _integrity.SetHostSuppressed(m.Total);
                return true;
            default:
                return false;
        }
    }
}
