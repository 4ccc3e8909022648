using System.Diagnostics;
using Vdi.Vmm.Host;

namespace Vdi.Vmm.FaultTolerance;

/// <summary>
/// The heartbeat: each host of a pair sends a journal frame at least every 100 ms
/// (<see cref="DesktopHostServer.HeartbeatInterval"/>). A host not heard from for <see cref="HeartbeatTimeout"/> — alive
/// but stopped, hung, or cut off — is killed, and its death handled as any other: a silent primary fails over to the
/// secondary, a silent secondary is replaced (the viewers, who watched it, see the primary meanwhile). The same tick
/// looks for a quasi pair's outputs that waited too long for their twins.
/// </summary>
public sealed partial class FaultTolerantDesktop
{
    /// <summary>How long a host of the pair may be silent before it is killed (10 heartbeats).</summary>
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(1);

    private readonly Dictionary<RemoteDesktop, long> _heard = [];
    private Timer? _heartbeat;

    /// <summary>The hosts' silences checked every 100 ms from the desktop's start.</summary>
    private void StartHeartbeat() =>
        _heartbeat = new Timer(_ => CheckHeartbeats(), null, DesktopHostServer.HeartbeatInterval, DesktopHostServer.HeartbeatInterval);

    /// <summary>A host starts being watched once it runs (a secondary: once it replays), as if just heard from.</summary>
    private void Heard(RemoteDesktop host)
    {
        lock (_gate)
            _heard[host] = Stopwatch.GetTimestamp();
    }

    private void CheckHeartbeats()
    {
        var now = Stopwatch.GetTimestamp();
        var silent = new List<(RemoteDesktop Host, string Role)>();
        lock (_gate)
        {
            if (_stopping || _completion.Task.IsCompleted)
                return;
            foreach (var (host, role) in new[] { (_primary, "primary"), (_feeding ? _secondary : null, "secondary") })
            {
                if (host is not null && _heard.TryGetValue(host, out var at) && Stopwatch.GetElapsedTime(at, now) > HeartbeatTimeout && !host.Completion.IsCompleted)
                    silent.Add((host, role));
            }
            foreach (var gone in _heard.Keys.Where(h => h.Completion.IsCompleted).ToList())
                _heard.Remove(gone);
        }
        foreach (var (host, role) in silent)
        {
            if (role == "primary")
                _failoverAsked = $"the primary stopped answering (nothing for {HeartbeatTimeout.TotalSeconds:F0} s)";
            host.Kill($"the {role} sent nothing for {HeartbeatTimeout.TotalSeconds:F0} s");
        }
        Comparator.CheckOverdue(); // a quasi pair's output whose twin never came, while the other side went quiet
    }

    private void StopHeartbeat() => _heartbeat?.Dispose();
}
