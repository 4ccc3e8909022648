using Vdi.Vmm.Host;

namespace Vdi.Server.Desktops;

/// <summary>
/// What a broker that starts does with the host processes a previous one left (their <see cref="HostRecord"/>s): a
/// desktop that should run takes back its host when that process is alive (pid and start time match, and it is a
/// <c>vdi-vmm serve</c> on that desktop's socket) and answers; any other recorded host that is still alive is killed
/// (SIGKILL) and its folder removed — records of desktops no longer in the database and folders of unknown desktops
/// included. A process that does not match its record is never signalled: its pid was reused by something else.
/// </summary>
internal static class HostReattach
{
    /// <summary>For a desktop of the database: true when it runs again on the host it had.</summary>
    public static async Task<bool> ReattachOrEndAsync(DesktopHost desktop, bool shouldRun, DesktopOptions options, ILogger log)
    {
        if (options.Isolation != DesktopIsolation.Process)
            return false;
        var folder = HostDirectories.PathOf(options, desktop.Id);
        if (HostRecord.Read(folder) is not { } record)
            return false;
        var socket = Path.Combine(folder, Path.GetFileName(record.SocketPath));
        if (shouldRun && options.ReattachSeconds > 0 && IsHost(record.Process, socket)
            && await desktop.ReattachAsync(record.Process, socket).ConfigureAwait(false))
            return true;
        await EndAsync(record, folder, socket, desktop.Name, log).ConfigureAwait(false);
        return false;
    }

    /// <summary>Ends the hosts recorded by this broker (same data folder) for desktops that are not in <paramref name="known"/>.</summary>
    public static async Task EndUnknownAsync(DesktopOptions options, IReadOnlySet<Guid> known, ILogger log)
    {
        if (options.Isolation != DesktopIsolation.Process)
            return;
        var root = HostDirectories.Root(options);
        if (!Directory.Exists(root))
            return;
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            if (!Guid.TryParseExact(Path.GetFileName(folder), "N", out var id) || known.Contains(id) || HostRecord.Read(folder) is not { } record)
                continue;
            if (record.Broker is { } broker && options.DataDirectory is { } data && Path.GetFullPath(broker) != Path.GetFullPath(data))
                continue; // another broker's desktop
            await EndAsync(record, folder, Path.Combine(folder, Path.GetFileName(record.SocketPath)), $"unknown desktop {id:N}", log).ConfigureAwait(false);
        }
    }

    /// <summary>Whether <paramref name="process"/> is alive and is a host serving <paramref name="socket"/>.</summary>
    private static bool IsHost(HostProcess process, string socket) => process.IsAlive && process.Serves(socket);

    private static async Task EndAsync(HostRecord record, string folder, string socket, string name, ILogger log)
    {
        var process = record.Process;
        if (IsHost(process, socket))
        {
            process.Kill();
            var gone = await process.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            DesktopLog.HostEnded(log, name, process.Pid, gone ? "killed: it was not reattached" : "killed, but it has not exited yet");
        }
        else
        {
            DesktopLog.RecordRemoved(log, name, process.Pid, process.IsAlive ? "that pid now belongs to another process, left alone" : "the process is gone");
        }
        HostDirectories.Delete(folder);
    }
}
