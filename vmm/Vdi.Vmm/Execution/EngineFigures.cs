using System.Globalization;

namespace Vdi.Vmm.Execution;

/// <summary>
/// What one engine measured running <see cref="Guest.CalibrationGuest"/> on this host: guest instructions per second
/// on the ALU loop and on the memory loop, and the cost of one exit (a guest port write handled by a device and back).
/// </summary>
public sealed record EngineFigures(ExecutionEngine Engine, double AluInstructionsPerSecond, double MemoryInstructionsPerSecond, double ExitNanoseconds)
{
    /// <summary>
    /// The desktop workload the choice is made for: per <see cref="DesktopInstructionsPerExit"/> guest instructions,
    /// half ALU and half memory work, and one exit. The built-in desktop's repaints and drawing run about this many
    /// instructions per device access (a flush or a queue notification); see <see cref="EnginePolicy"/>.
    /// </summary>
    public const int DesktopInstructionsPerExit = 1000;

    /// <summary>Nanoseconds this engine spends on <see cref="DesktopInstructionsPerExit"/> instructions of desktop work and its exit.</summary>
    public double DesktopNanoseconds =>
        (DesktopInstructionsPerExit / 2.0 * 1e9 / AluInstructionsPerSecond)
        + (DesktopInstructionsPerExit / 2.0 * 1e9 / MemoryInstructionsPerSecond)
        + ExitNanoseconds;

    /// <summary>"KVM: ALU 1.4 M instr/s, memory 1.2 M instr/s, 7.1 µs/exit".</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{(Engine == ExecutionEngine.Kvm ? "KVM" : "software")}: ALU {Rate(AluInstructionsPerSecond)}, memory {Rate(MemoryInstructionsPerSecond)}, {Duration(ExitNanoseconds)}/exit");

    public static string Rate(double perSecond) => perSecond >= 1e9
        ? string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e9:F2} G instr/s")
        : string.Create(CultureInfo.InvariantCulture, $"{perSecond / 1e6:F1} M instr/s");

    public static string Duration(double nanoseconds) => nanoseconds >= 1000
        ? string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / 1000:F1} µs")
        : string.Create(CultureInfo.InvariantCulture, $"{nanoseconds:F0} ns");
}
