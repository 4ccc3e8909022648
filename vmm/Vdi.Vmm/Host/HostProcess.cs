using System.Globalization;
using Vdi.Vmm.Interop;

namespace Vdi.Vmm.Host;

/// <summary>
/// A host process named by its pid and its start time (<c>/proc/PID/stat</c> field 22, clock ticks after boot): the
/// pair tells it apart from a later process that reuses the pid. This is how a broker that did not start a host (it
/// restarted) finds it, watches it and ends it; it never signals a process whose start time differs.
/// </summary>
public readonly record struct HostProcess(int Pid, long StartTime)
{
    /// <summary>The process with this pid now, or null when there is none (or it is a zombie).</summary>
    public static HostProcess? Find(int pid)
    {
        if (pid <= 0 || ReadStat(pid) is not { } stat)
            return null;
        // After "pid (comm) ": field 3 is the state, field 22 the start time. comm may hold spaces and parentheses.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        if (fields.Length < 20 || fields[0] is "Z" or "X" || !long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
            return null;
        return new HostProcess(pid, start);
    }

    /// <summary>Whether this very process (pid and start time) still runs.</summary>
    public bool IsAlive => Find(Pid) == this;

    /// <summary>Its command line (<c>/proc/PID/cmdline</c>), empty when unreadable.</summary>
    public IReadOnlyList<string> CommandLine
    {
        get
        {
            try
            {
                var text = File.ReadAllText($"/proc/{Pid}/cmdline");
                return IsAlive ? text.Split('\0', StringSplitOptions.RemoveEmptyEntries) : [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return [];
            }
        }
    }

    /// <summary>Whether it is a <c>vdi-vmm serve</c> listening on <paramref name="socketPath"/>.</summary>
    public bool Serves(string socketPath)
    {
        var args = CommandLine;
        var serve = args.ToList().IndexOf("serve");
        if (serve < 0)
            return false;
        for (var i = serve + 1; i + 1 < args.Count; i++)
        {
            if (args[i] == "--socket" && Path.GetFullPath(args[i + 1]) == Path.GetFullPath(socketPath))
                return true;
        }
        return false;
    }

    /// <summary>
    /// SIGKILL through a pidfd opened first and checked against the start time, so a pid reused meanwhile is never
    /// signalled. False when the process is already gone (or is not this one).
    /// </summary>
    public bool Kill()
    {
        var pidfd = ProcessCalls.PidfdOpen(Pid);
        if (pidfd < 0)
            return false;
        try
        {
            // The pidfd names whatever had the pid when it was opened: if that is still this process, it is ours.
            return IsAlive && ProcessCalls.PidfdSendSignal(pidfd, ProcessCalls.SIGKILL) == 0;
        }
        finally
        {
            _ = HostCalls.Close(pidfd);
        }
    }

    /// <summary>Waits until the process is gone; false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive)
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Makes this process the leader of a new session (<c>setsid</c>): a terminal's signals to its starter's process
    /// group (Ctrl+C of the broker) no longer reach it, so its starter alone decides its life. False when it already
    /// leads one (a host that re-executed itself into its sandbox's namespace called it before).
    /// </summary>
    public static bool StartOwnSession() => ProcessCalls.NewSession() >= 0;

    /// <summary>This process (for a host to name itself, and for tests).</summary>
    public static HostProcess Current => Find(Environment.ProcessId) ?? throw new InvalidOperationException("/proc is not readable");

    private static string? ReadStat(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
