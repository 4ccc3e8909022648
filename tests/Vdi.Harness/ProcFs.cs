using System.Diagnostics;

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

    /// <summary>VmRSS of <paramref name="pid"/> in MiB (<c>/proc/PID/status</c>).</summary>
    public static double ResidentMiB(int pid) => Vmm.Host.ProcessMemory.Read(pid).ResidentKiB / 1024.0;
}
