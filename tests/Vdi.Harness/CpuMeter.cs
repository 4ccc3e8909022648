using System.Diagnostics;
using Vdi.Benchmarks;
using Vdi.Server.Desktops;

namespace Vdi.Harness;

/// <summary>
/// CPU over an interval, split into the server's and the measured desktops' guests'. The server is this process (the
/// broker; viewers that count run in processes of their own) less the vCPU threads of every VM running in it. The
/// guests are the measured desktops' vCPU threads when they run in this process, or their host processes' whole CPU
/// (utime + stime in <c>/proc/PID/stat</c>: the VM, its devices and the shared-scanout copies) when they run out of it.
/// </summary>
internal sealed class CpuMeter
{
    private readonly IReadOnlyList<Func<TimeSpan>> _guests;
    private readonly Dictionary<Vmm.Machine.Machine, TimeSpan> _localVcpus;
    private readonly TimeSpan _process;
    private readonly TimeSpan _guest;
    private readonly long _started = Stopwatch.GetTimestamp();

    public CpuMeter(IEnumerable<DesktopHost> desktops)
    {
        _guests = [.. desktops.Select(GuestCpu)];
        _localVcpus = HarnessBroker.LocalMachines().ToDictionary(m => m, VcpuCpu);
        _process = Stats.ProcessCpu();
        _guest = Sum(_guests.Select(g => g()));
    }

    /// <summary>(wall time, the server's CPU, the measured desktops' guest CPU) since the meter started.</summary>
    public (TimeSpan Wall, TimeSpan Host, TimeSpan Guest) Read()
    {
        var guest = Sum(_guests.Select(g => g())) - _guest;
        var process = Stats.ProcessCpu() - _process;
        // Only VMs that ran through the whole interval: none is created or deleted while a scenario measures.
        var vcpus = Sum(HarnessBroker.LocalMachines().Where(_localVcpus.ContainsKey).Select(m => VcpuCpu(m) - _localVcpus[m]));
        return (Stopwatch.GetElapsedTime(_started), process - vcpus, guest);
    }

    /// <summary>How to read one desktop's guest CPU: its VM's vCPU threads here, or its host process there.</summary>
    private static Func<TimeSpan> GuestCpu(DesktopHost desktop)
    {
        if (desktop.LocalMachine is { } machine)
            return () => VcpuCpu(machine);
        var pid = desktop.HostProcessId ?? throw new InvalidOperationException($"desktop {desktop.Name} runs neither here nor in a host process");
        return () => ProcFs.Cpu(pid);
    }

    private static TimeSpan VcpuCpu(Vmm.Machine.Machine machine) => Sum(machine.VcpuCpuTimes.Select(t => t ?? TimeSpan.Zero));

    private static TimeSpan Sum(IEnumerable<TimeSpan> times) => times.Aggregate(TimeSpan.Zero, (sum, t) => sum + t);
}
