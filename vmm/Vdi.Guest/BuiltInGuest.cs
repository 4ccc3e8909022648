using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Images;

namespace Vdi.Guest;

/// <summary>
/// The guest the VMM boots when given no other: proves every vCPU runs, that they share memory coherently, and that
/// the host can ask it to power off. Serial output for N vCPUs (each line ends in <c>\n</c>):
/// <code>
/// Vdi built-in guest: N vCPUs
/// cpu 0 online
/// ...
/// cpu N-1 online
/// counter N*counterIterations
/// </code>
/// and, when the host posts <see cref="PortMap.HostRequestPowerOff"/>, <c>power off</c> before exit code 0.
/// Boot markers: <see cref="BootMarkers.Entered"/>, <see cref="BootMarkers.AllVcpusOnline"/>,
/// <see cref="BootMarkers.CounterDone"/>, <see cref="BootMarkers.Idle"/>, all written by vCPU 0.
/// </summary>
public static class BuiltInGuest
{
    public const string Name = "built-in";
    public const string CounterSymbol = "counter";
    public const string DoneSymbol = "done";
    public const string TurnSymbol = "turn";
    public const string HostRequestPendingSymbol = "host_request_pending";
    public const int DefaultCounterIterations = 100_000;

    /// <summary>Assembles the built-in guest, loaded at <see cref="GuestLayout.ImageBase"/>.</summary>
    /// <param name="counterIterations">Increments each vCPU adds to the shared counter (0 or more).</param>
    public static GuestImage Build(int counterIterations = DefaultCounterIterations)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(counterIterations);
        return GuestAssembly.Build(Name, GuestLayout.ImageBase, g =>
        {
            var runtime = new GuestRuntime(g);
            var boot = new BootSequenceEmitter(runtime);
            var idle = new IdleLoopEmitter(runtime);

            boot.Emit(counterIterations, idle.Bootstrap, idle.ApplicationProcessor);
            idle.EmitBootstrap();
            idle.EmitApplicationProcessor();
            runtime.EmitRoutines();

            g.Export(CounterSymbol, boot.Counter);
            g.Export(DoneSymbol, boot.Done);
            g.Export(TurnSymbol, boot.Turn);
            g.Export(HostRequestPendingSymbol, runtime.Interrupts.HostRequestPending);
        });
    }
}
