using System.Net.Sockets;

namespace Vdi.Vmm.Migration;

/// <summary>
/// Rehearsals of a migration, for a process that will send or receive one and has not run that code yet. The code the
/// two ends run while the source is paused — the state's writing and reading, every section's save and restore, the
/// restored machine's start — is then compiled before the pause, not during it (in a fresh host process cold code was
/// most of the downtime: ~200 ms against ~40 ms in a process that had migrated before).
/// </summary>
public static class MigrationWarmup
{
    private static int s_sourceRehearsed;
    private static readonly Lock s_gate = new();
    private static Task? s_inProcess;

    /// <summary>
    /// Two throwaway machines of <paramref name="config"/>, unbooted: one written to a snapshot in memory and restored into
    /// the other — the engine's own vCPU and platform sections (a KVM host's in-kernel ones among them).
    /// </summary>
    public static void Run(Machine.MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var source = Machine.MachineBuilder.Build(config);
        using var destination = Machine.MachineBuilder.Build(config);
        using var stream = new MemoryStream();
        MachineSnapshot.SaveAsync(source, stream).GetAwaiter().GetResult();
        stream.Position = 0;
        var identity = MigrationTarget.ReadIdentityAsync(stream).GetAwaiter().GetResult();
        MigrationTarget.RestoreSnapshotAsync(destination, identity, stream).GetAwaiter().GetResult();
    }

    /// <summary>
    /// For a receiving host, before its sandbox (it opens a loopback socket): a whole live migration between two
    /// throwaway machines of the software engine with 128 MiB, the source booted until <paramref name="ready"/> says so —
    /// so the restore of a guest's real state (its integrity driver's ranges walked, GPU resources with their backing and
    /// pre-copied pixels, queues in use) and the start of the restored machine have run once.
    /// </summary>
    public static async Task RehearseAsync(Machine.MachineConfig config, Func<Machine.Machine, Task> ready, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(ready);
        var rehearsal = config with { Engine = Execution.EngineChoice.Software, MemoryMiB = Math.Min(config.MemoryMiB, 128) };
        using var source = Machine.MachineBuilder.Build(rehearsal);
        using var destination = Machine.MachineBuilder.Build(rehearsal);
        try
        {
            source.Start();
            await ready(source).ConfigureAwait(false);
            using var pair = await LoopbackPair.OpenAsync(cancellationToken).ConfigureAwait(false);
            var received = MigrationTarget.ReceiveAsync(destination, pair.Destination, m =>
            {
                m.Start();
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(30), cancellationToken);
            var outcome = await MigrationSource.SendAsync(source, pair.Source, new MigrationOptions(), null, cancellationToken).ConfigureAwait(false);
            await received.ConfigureAwait(false);
            if (!outcome.Succeeded)
                throw new MigrationException($"the rehearsal's migration failed: {outcome.Error}");
        }
        finally
        {
            source.Stop();
            destination.Stop();
        }
    }

    /// <summary>
    /// <see cref="RehearseAsync"/> once per process, for a process that runs desktops of its own and receives them (a
    /// broker with desktops in process): its first destination waits for it; later ones find it done.
    /// </summary>
    public static Task RehearseOnceAsync(Machine.MachineConfig config, Func<Machine.Machine, Task> ready)
    {
        lock (s_gate)
        {
            return s_inProcess ??= Task.Run(async () =>
            {
                try
                {
                    await RehearseAsync(config, ready).ConfigureAwait(false);
                }
                catch (Exception e) when (e is MigrationException or IOException or SocketException or InvalidOperationException or TimeoutException)
                {
                    // Only the first migration's downtime pays for it; the migration itself does not depend on it.
                }
            });
        }
    }

    /// <summary>
    /// For a process about to send its first migration, before its pre-copy: <see cref="Run"/> on throwaway machines of
    /// the software engine with 64 MiB (no new KVM VM, nothing a sandbox refuses), so the state's writing — every device's
    /// save, which the source runs while paused — is compiled. Once per process; later calls return at once.
    /// </summary>
    public static void RunOnceForSource(Machine.MachineConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (Interlocked.Exchange(ref s_sourceRehearsed, 1) == 0)
            Run(config with { Engine = Execution.EngineChoice.Software, MemoryMiB = Math.Min(config.MemoryMiB, 64) });
    }
}
