using Vdi.Vmm.Boot;
using Vdi.Vmm.Devices.Display;
using Vdi.Vmm.Devices.Gpu;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Execution.Switching;
using Vdi.Vmm.Images;

namespace Vdi.Vmm.Machine;

/// <summary>What to build: vCPUs, RAM and the guest image. Validated before anything is created.</summary>
public sealed record MachineConfig
{
    public const int MaxMemoryMiB = 3072; // RAM stays below the 3 GiB MMIO hole

    public int Vcpus { get; init; } = 1;

    public int MemoryMiB { get; init; } = 256;

    public required GuestImage Image { get; init; }

    /// <summary>The engine that runs the guest. KVM unless asked otherwise: <see cref="EngineChoice.Auto"/> falls back to software.</summary>
    public EngineChoice Engine { get; init; } = EngineChoice.Kvm;

    /// <summary>
    /// On KVM: hand a vCPU in an exit storm (a loop of port I/O, MMIO polling) to the software engine for that code and
    /// back (<see cref="ExitStormPolicy"/>). Ignored by software-engine machines, and off where KVM lacks
    /// <c>KVM_CAP_SYNC_REGS</c> (<see cref="Machine.EngineSwitches"/> is then empty).
    /// </summary>
    public bool ExitStormSwitching { get; init; } = true;

    /// <summary>The exit-storm policy's thresholds and slice bounds.</summary>
    public ExitStormThresholds ExitStorm { get; init; } = ExitStormThresholds.Default;

    /// <summary>KVM device path; null means <see cref="Kvm.KvmSystem.ConfiguredDevicePath"/>.</summary>
    public string? KvmDevicePath { get; init; }

    /// <summary>The display mode the GPU offers before any client asks for one.</summary>
    public DisplayProperties Display { get; init; } = new(1280, 720);

    /// <summary>GPU limits: largest mode and resource memory budget.</summary>
    public GpuOptions Gpu { get; init; } = new();

    /// <summary>
    /// How the machine treats a guest integrity driver (<see cref="Integrity.IntegrityMonitor"/>): nothing is traced
    /// until a driver registers, so a guest without one runs as if it were off.
    /// </summary>
    public Integrity.IntegrityLevel Integrity { get; init; } = Vmm.Integrity.IntegrityLevel.Enforce;

    public ulong MemoryBytes => (ulong)MemoryMiB << 20;

    /// <summary>Throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Engine))
            throw new ArgumentException($"engine must be auto, kvm or software, not {(int)Engine}", nameof(Engine));
        if (Vcpus is < 1 or > GuestLayout.MaxVcpus)
            throw new ArgumentException($"vcpus must be between 1 and {GuestLayout.MaxVcpus}, not {Vcpus}", nameof(Vcpus));
        if (MemoryMiB < (int)(GuestLayout.MinimumMemory >> 20) || MemoryMiB > MaxMemoryMiB)
            throw new ArgumentException($"memory must be between {GuestLayout.MinimumMemory >> 20} and {MaxMemoryMiB} MiB, not {MemoryMiB}", nameof(MemoryMiB));
        ArgumentNullException.ThrowIfNull(ExitStorm, nameof(ExitStorm));
        ExitStorm.Validate();
        if (DisplayProperties.Validate(Display, Gpu.MaxWidth, Gpu.MaxHeight) is { } displayError)
            throw new ArgumentException($"display: {displayError}", nameof(Display));
        if (Image.LoadAddress < GuestLayout.ImageBase || Image.EndAddress > MemoryBytes)
            throw new ArgumentException($"image '{Image.Name}' [0x{Image.LoadAddress:X}, 0x{Image.EndAddress:X}) does not fit in RAM above 0x{GuestLayout.ImageBase:X}", nameof(Image));
    }
}
