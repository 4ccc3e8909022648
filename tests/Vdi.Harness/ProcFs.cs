using System.Diagnostics;
using System.Globalization;

namespace Vdi.Harness;

/// <summary>Another process's CPU time and resident memory, as Linux reports them under <c>/proc</c>.</summary>
internal static class ProcFs
{
    /// <summary>utime + stime of every thread of <paramref name="pid"/> (<c>/proc/PID/stat</c>, read by .NET's <see cref="Process"/>).</summary>
    public static TimeSpan Cpu(int pid)
    {
        using var process = Process.GetProcessById(pid);
        return process.TotalProcessorTime;
    }

    /// <summary>VmRSS of <paramref name="pid"/> in MiB (<c>/proc/PID/status</c>); "self" for this process.</summary>
    public static double ResidentMiB(string pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS");
    }
}
