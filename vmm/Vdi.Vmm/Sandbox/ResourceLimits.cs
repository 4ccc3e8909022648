using System.Globalization;
using Vdi.Vmm.Interop;
using static Vdi.Vmm.Interop.SandboxConstants;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// Memory and CPU limits. With a writable cgroup v2 that delegates the memory and cpu controllers, the process
/// moves itself into a child cgroup <c>vdi-vmm-PID</c> with <c>memory.max</c> and <c>cpu.max</c> (a real rate
/// limit). Without it: memory by RLIMIT_DATA (private writable memory, which is what guest RAM, GC heaps and JIT
/// code are; RLIMIT_AS would count the runtime's hundreds of GiB of reserved address space and fail everything),
/// and CPU only by priority — RLIMIT_CPU is total seconds, not a rate, so it would kill a long-lived desktop: every
/// thread gets nice 10, so the broker and other desktops win when the host is busy. Core dumps are always off
/// (RLIMIT_CORE 0): a dump would hold the guest's memory.
/// </summary>
public static class ResourceLimits
{
    private static readonly string[] s_controllers = ["memory", "cpu"];

    /// <summary>Applies the limits, adding "cgroup" and "rlimits" steps to <paramref name="report"/>.</summary>
    public static void Apply(SandboxConfig config, SandboxReport report)
    {
        var cgroupError = TryCgroup(config, out var cgroupDetail);
        if (cgroupError is null)
            report.Add("cgroup", true, cgroupDetail);
        else if (config.MemoryLimitBytes is null && config.CpuPercent is null)
            report.Add("cgroup", true, cgroupError);
        else
            report.Add("cgroup", false, $"{cgroupError}: limits by rlimit");

        var details = new List<string>();
        var ok = SandboxCalls.SetLimit(RLIMIT_CORE, 0) == 0;
        details.Add("no core dumps");
        if (cgroupError is not null && config.MemoryLimitBytes is { } memory)
        {
            var inUse = PrivateWritableBytes();
            if (SandboxCalls.SetLimit(RLIMIT_DATA, memory) == 0)
                details.Add($"RLIMIT_DATA {memory >> 20} MiB ({inUse >> 20} MiB in use)");
            else
            {
                ok = false;
                details.Add($"RLIMIT_DATA failed: {LibcCalls.Describe(SandboxCalls.LastErrno)}");
            }
        }
        if (cgroupError is not null && config.CpuPercent is not null)
            details.Add($"cpu: no rate limit without cgroup v2; {Renice(10)} threads at nice 10");
        report.Add("rlimits", ok, string.Join("; ", details));
    }

    /// <summary>VmData of this process (what RLIMIT_DATA counts).</summary>
    public static ulong PrivateWritableBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmData:", StringComparison.Ordinal))
                return ulong.Parse(line.AsSpan(7).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }

    /// <summary>Sets the nice value of every thread (nice is per thread on Linux; later threads inherit it).</summary>
    private static int Renice(int nice)
    {
        var count = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (int.TryParse(Path.GetFileName(task), CultureInfo.InvariantCulture, out var tid) &&
                SandboxCalls.Call(SYS_setpriority, PRIO_PROCESS, tid, nice) == 0)
                count++;
        }
        return count;
    }

    /// <summary>Returns null and what was done, or why cgroup v2 cannot be used here.</summary>
    private static string? TryCgroup(SandboxConfig config, out string detail)
    {
        detail = "";
        if (config.MemoryLimitBytes is null && config.CpuPercent is null)
            return "no limits asked for";
        try
        {
            var mount = File.ReadLines("/proc/self/mountinfo")
                .Select(l => l.Split(' '))
                .FirstOrDefault(f => f.Length > 9 && f[Array.IndexOf(f, "-") + 1] == "cgroup2")?[4];
            if (mount is null)
                return "no cgroup v2 mounted";
            var own = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..];
            if (own is null)
                return "not in a cgroup v2 hierarchy";
            var current = Path.TrimEndingDirectorySeparator(Path.Join(mount, own));
            var controllers = File.ReadAllText(Path.Join(current, "cgroup.controllers")).Split(' ', StringSplitOptions.TrimEntries);
            if (s_controllers.FirstOrDefault(c => !controllers.Contains(c)) is { } missing)
                return $"cgroup v2 at {current} has no {missing} controller here (controllers: {string.Join(' ', controllers.Where(c => c.Length > 0))})";
            // Delegation: the parent must hand the controllers down; this fails where the parent holds processes
            // and is not the root (the "no internal processes" rule) — then the broker should give each desktop a
            // delegated cgroup of its own to start in.
            File.WriteAllText(Path.Join(current, "cgroup.subtree_control"), "+memory +cpu");
            var child = Path.Join(current, $"vdi-vmm-{Environment.ProcessId}");
            Directory.CreateDirectory(child);
            var memory = config.MemoryLimitBytes?.ToString(CultureInfo.InvariantCulture) ?? "max";
            File.WriteAllText(Path.Join(child, "memory.max"), memory);
            var cpu = config.CpuPercent is { } percent ? $"{percent * 1000} 100000" : "max 100000";
            File.WriteAllText(Path.Join(child, "cpu.max"), cpu);
            File.WriteAllText(Path.Join(child, "cgroup.procs"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            detail = $"{child}: memory.max {memory}, cpu.max {cpu}";
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cgroup v2 not writable here ({e.Message})";
        }
    }
}
