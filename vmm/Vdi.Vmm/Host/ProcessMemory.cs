using System.Globalization;

namespace Vdi.Vmm.Host;

/// <summary>A process's resident memory as Linux reports it in <c>/proc/PID/status</c> (the benchmarks' idle-memory figures).</summary>
public static class ProcessMemory
{
    /// <summary>VmRSS and, of it, RssShmem (shared memory such as the scanout's memfd), in KiB.</summary>
    public static (long ResidentKiB, long SharedKiB) Read(int pid)
    {
        long resident = 0, shared = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                resident = Kib(line);
            else if (line.StartsWith("RssShmem:", StringComparison.Ordinal))
                shared = Kib(line);
        }
        return (resident, shared);
    }

    private static long Kib(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
