namespace Vdi.Vmm.Migration;

/// <summary>
/// A rehearsal of a migration's receiving end, for a process that will receive one and has not run that code yet (a
/// host started with <c>serve --incoming</c>): two throwaway machines of the same configuration, one written to a
/// snapshot in memory and restored into the other. The code the destination runs while the source is paused — the state's
/// writing and reading, every section's save and restore — is then compiled before the pause, not during it (in a fresh
/// host process that was most of the downtime: ~200 ms against ~40 ms in a process that had migrated before).
/// </summary>
public static class MigrationWarmup
{
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
}
