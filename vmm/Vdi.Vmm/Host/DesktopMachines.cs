using Vdi.Vmm.Machine;

namespace Vdi.Vmm.Host;

/// <summary>
/// The one choice between a desktop in this process and one in a host process of its own: the same
/// <see cref="MachineConfig"/> either way (its image must be the desktop guest's: a host process always runs that).
/// </summary>
public static class DesktopMachines
{
    /// <param name="hostDirectory">Null: build the VM in this process. Otherwise the host process's own folder (its socket).</param>
    /// <param name="sandbox">With a host process: apply the sandbox before the guest runs.</param>
    /// <param name="configure">With a host process: adjusts the options made from <paramref name="config"/> (a memory limit, test hooks).</param>
    public static async Task<IDesktopMachine> CreateAsync(MachineConfig config, string? hostDirectory, bool sandbox = true,
        Action<string>? log = null, Func<RemoteDesktopOptions, RemoteDesktopOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (hostDirectory is null)
            return LocalDesktop.Build(config);
        config.Validate();
        var options = new RemoteDesktopOptions
        {
            WorkDirectory = hostDirectory, Vcpus = config.Vcpus, MemoryMiB = config.MemoryMiB, Engine = config.Engine,
            Display = config.Display, MaxWidth = config.Gpu.MaxWidth, MaxHeight = config.Gpu.MaxHeight, Sandbox = sandbox, Log = log,
            KvmDevicePath = config.KvmDevicePath, Integrity = config.Integrity,
        };
        return await RemoteDesktop.LaunchAsync(configure?.Invoke(options) ?? options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// As <see cref="CreateAsync"/>, for the destination of a live migration: the machine is built from the same config
    /// and never booted (a host process runs `serve --incoming`); <see cref="IDesktopMachine.AcceptMigrationAsync"/>
    /// gives its endpoint, and it runs once the migration commits. In process, this process's first one waits for a
    /// rehearsal (<see cref="Migration.MigrationWarmup.RehearseOnceAsync"/>), as a host process does before it listens.
    /// </summary>
    public static async Task<IDesktopMachine> CreateIncomingAsync(MachineConfig config, string? hostDirectory, bool sandbox = true,
        Action<string>? log = null, Func<RemoteDesktopOptions, RemoteDesktopOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (hostDirectory is null)
            await Migration.MigrationWarmup.RehearseOnceAsync(config, m => LocalDesktop.WhenIdleAsync(m, TimeSpan.FromSeconds(30))).WaitAsync(cancellationToken).ConfigureAwait(false);
        return await CreateAsync(config, hostDirectory, sandbox, log, o => (configure?.Invoke(o) ?? o) with { Incoming = true }, cancellationToken).ConfigureAwait(false);
    }
}
