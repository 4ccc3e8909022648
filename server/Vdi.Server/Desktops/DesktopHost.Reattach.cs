using System.Net.Sockets;
using Vdi.Vmm.Host;

namespace Vdi.Server.Desktops;

/// <summary>A desktop's host process across broker restarts (reattach, let go), and its automatic restarts after crashes.</summary>
public sealed partial class DesktopHost
{
    /// <summary>How long a host left running may take to answer a reattaching broker: connection, handshake, and saying its guest runs.</summary>
    internal static readonly TimeSpan ReattachTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Takes back the host a previous broker left running (<paramref name="host"/>, listening on
    /// <paramref name="socketPath"/>): connects, shakes hands and waits for it to say its guest runs. True: the desktop
    /// is Running on that host. False: it did not answer in time (the connection, if any, is let go; the caller ends
    /// the process).
    /// </summary>
    internal async Task<bool> ReattachAsync(HostProcess host, string socketPath)
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        try
        {
            if (State is DesktopState.Running or DesktopState.Starting || _desktop is not null)
                return false;
            (State, StateReason) = (DesktopState.Starting, null);
            RemoteDesktop? desktop = null;
            try
            {
                desktop = await RemoteDesktop.AttachAsync(socketPath, host, ReattachTimeout, line => DesktopLog.Host(_log, Name, line)).ConfigureAwait(false);
                var answer = await Task.WhenAny(desktop.WhenStarted, desktop.Completion, Task.Delay(ReattachTimeout)).ConfigureAwait(false);
                if (answer != desktop.WhenStarted)
                    throw new IOException("the host did not say its guest runs");
                WatchIntegrity(desktop);
                _desktop = desktop;
                State = DesktopState.Running;
                _ = WatchAsync(desktop);
                DesktopLog.Reattached(_log, Name, host.Pid);
                return true;
            }
            catch (Exception e) when (e is IOException or SocketException or HostProtocolException or InvalidOperationException)
            {
                if (desktop is not null)
                {
                    desktop.Detach(); // the caller ends the process; nothing is asked of it here
                    await desktop.DisposeAsync().ConfigureAwait(false);
                }
                DesktopLog.ReattachFailed(_log, Name, host.Pid, e.Message);
                (State, StateReason) = (DesktopState.Stopped, null);
                return false;
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Lets go of a running host without stopping it (a broker shutting down with
    /// <see cref="DesktopOptions.KeepRunningOnShutdown"/>): its sessions end with <paramref name="why"/>, the host keeps
    /// its guest running for <see cref="DesktopOptions.ReattachSeconds"/>, and its record stays for the next broker.
    /// A desktop not running in a host process is stopped instead.
    /// </summary>
    internal async Task DetachAsync(string why)
    {
        await _lifecycle.WaitAsync().ConfigureAwait(false);
        RemoteDesktop? remote = null;
        try
        {
            if (_desktop is RemoteDesktop { Completion.IsCompleted: false } running && State == DesktopState.Running)
            {
                remote = running;
                _stopping = true;
                await EndSessionsAsync(why).ConfigureAwait(false);
                remote.Detach();
                _desktop = null;
                await remote.DisposeAsync().ConfigureAwait(false);
                (State, StateReason) = (DesktopState.Stopped, "the broker let go of its host process");
                DesktopLog.Detached(_log, Name, remote.ProcessId ?? 0, _options.ReattachSeconds);
            }
        }
        finally
        {
            _stopping = false;
            _lifecycle.Release();
        }
        if (remote is null)
            await StopAsync(why).ConfigureAwait(false);
    }

    /// <summary>After crash number <paramref name="crash"/>: restarts the desktop after a growing delay, unless past the limit.</summary>
    private void RestartAfterCrash(int crash, string reason)
    {
        if (_restarts.Next() is not { } next)
        {
            StateReason = $"{reason}; automatic restarts gave up after {_restarts.Limit} within {Minutes(_restarts.Window)}";
            DesktopLog.AutomaticRestartsGaveUp(_log, Name, _restarts.Limit, _restarts.Window);
            return;
        }
        var (delay, attempt) = next;
        DesktopLog.AutomaticRestart(_log, Name, attempt, _restarts.Limit, delay);
        _ = Task.Run(async () =>
        {
            await Task.Delay(delay).ConfigureAwait(false);
            // Not if the desktop was started, stopped, deleted or crashed again meanwhile.
            if (State == DesktopState.Crashed && Volatile.Read(ref _crashes) == crash)
                await StartCoreAsync().ConfigureAwait(false);
        });
    }

    private static string Minutes(TimeSpan window) =>
        window.TotalMinutes >= 1 ? $"{window.TotalMinutes:0.#} minutes" : $"{window.TotalSeconds:0.#} s";

    /// <summary>The host ended: its record goes (its folder is replaced at the next start or removed at a stop).</summary>
    private void RemoveHostRecord()
    {
        if (_options.Isolation == DesktopIsolation.Process)
            HostRecord.Delete(HostDirectories.PathOf(_options, Id));
    }
}
