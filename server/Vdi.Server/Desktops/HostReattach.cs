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

    /// <summary>
    /// The records this broker (same data folder) left for desktops not in <paramref name="known"/>. Called before the
    /// server takes requests, so a desktop created meanwhile cannot be mistaken for an unknown one.
    /// </summary>
    public static IReadOnlyList<(string Folder, HostRecord Record)> FindUnknown(DesktopOptions options, IReadOnlySet<Guid> known)
    {
        var root = HostDirectories.Root(options);
        if (options.Isolation != DesktopIsolation.Process || !Directory.Exists(root))
            return [];
        var found = new List<(string, HostRecord)>();
        foreach (var folder in Directory.EnumerateDirectories(root))
        {
            if (!Guid.TryParseExact(Path.GetFileName(folder), "N", out var id) || known.Contains(id) || HostRecord.Read(folder) is not { } record)
                continue;
            if (record.Broker is { } broker && options.DataDirectory is { } data && Path.GetFullPath(broker) != Path.GetFullPath(data))
                continue; // another broker's desktop
            found.Add((folder, record));
        }
        return found;
    }

    /// <summary>Ends the hosts of <see cref="FindUnknown"/>'s records.</summary>
    public static async Task EndUnknownAsync(IReadOnlyList<(string Folder, HostRecord Record)> unknown, ILogger log)
    {
        foreach (var (folder, record) in unknown)
            await EndAsync(record, folder, Path.Combine(folder, Path.GetFileName(record.SocketPath)), $"unknown desktop {Path.GetFileName(folder)}", log).ConfigureAwait(false);
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
        // Unless a start of the desktop replaced the folder meanwhile (a new host, a new record).
        if (HostRecord.Read(folder) is not { } current || current == record)
            HostDirectories.Delete(folder);
    }
}
