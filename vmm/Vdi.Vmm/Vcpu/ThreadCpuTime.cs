using System.Globalization;

namespace Vdi.Vmm.Vcpu;

/// <summary>CPU time (user + system) a thread of this process has used, from <c>/proc/self/task/TID/stat</c>.</summary>
public static class ThreadCpuTime
{
    // USER_HZ is 100 on every Linux architecture the VMM runs on (x86-64).
    private const double TicksPerSecond = 100;

    /// <summary>The thread's CPU time, or null when the thread no longer exists.</summary>
    public static TimeSpan? Read(int threadId)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/self/task/{threadId}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        // The command name (field 2) is in parentheses and may contain spaces; fields after it are plain.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var utime = long.Parse(fields[11], CultureInfo.InvariantCulture); // field 14
        var stime = long.Parse(fields[12], CultureInfo.InvariantCulture); // field 15
        return TimeSpan.FromSeconds((utime + stime) / TicksPerSecond);
    }
}
