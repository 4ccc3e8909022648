using Vdi.Guest.Bench;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Migration;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.Migration;

/// <summary>The A-B guest's machines for the migration tests: a source running it and a destination built the same way.</summary>
internal static class AbMachines
{
    public const int MemoryMiB = 128;
    public const ulong DmaWindow = 8UL << 20;
    public const uint DmaWindowPages = 512;
    public const ulong Range = 16UL << 20;
    public const ulong RangeBytes = 64UL << 20;

    public static Vdi.Vmm.Images.GuestImage Image { get; } = AbGuest.Build(Range, RangeBytes, DmaWindow, DmaWindowPages, dmaEvery: 16);

    public static Vmm.Machine.Machine Build(EngineChoice engine, int vcpus = 2) =>
        KvmMachines.Build(Image, vcpus, MemoryMiB, engine, exitStormSwitching: false);

    /// <summary>Guest-physical addresses of the pages whose bytes differ between the two machines.</summary>
    public static List<ulong> Differences(Vmm.Machine.Machine a, Vmm.Machine.Machine b)
    {
        var pageA = new byte[MigrationWire.PageSize];
        var pageB = new byte[MigrationWire.PageSize];
        var differing = new List<ulong>();
        for (ulong address = 0; address < a.Config.MemoryBytes; address += MigrationWire.PageSize)
        {
            a.Memory.Read(address, pageA);
            b.Memory.Read(address, pageB);
            if (!pageA.AsSpan().SequenceEqual(pageB))
                differing.Add(address);
        }
        return differing;
    }

    /// <summary>Waits until the guest has changed the first incremented byte at least twice more (it runs).</summary>
    public static async Task AssertRunsAsync(Vmm.Machine.Machine machine)
    {
        var start = machine.Memory.Read<byte>(Range);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var changes = 0;
        var last = start;
        while (changes < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the A-B guest is not running: byte at 0x{Range:X} stays {last}; vCPUs {string.Join(",", machine.VcpuStates)}");
            await Task.Delay(5);
            var now = machine.Memory.Read<byte>(Range);
            if (now != last)
            {
                changes++;
                last = now;
            }
        }
    }

    /// <summary>Runs one migration between two machines over loopback TCP; returns both sides' results and the pages that differed at the switch.</summary>
    public static async Task<(MigrationOutcome Outcome, Exception? DestinationError, List<ulong>? Differing)> MigrateAsync(
        Vmm.Machine.Machine source, Vmm.Machine.Machine destination, MigrationOptions? options = null, Func<Stream, Stream>? wrapSource = null,
        CancellationToken cancellationToken = default)
    {
        using var pair = await LoopbackPair.OpenAsync(CancellationToken.None);
        List<ulong>? differing = null;
        var receive = Task.Run(async () =>
        {
            try
            {
                await MigrationTarget.ReceiveAsync(destination, pair.Destination, m =>
                {
                    differing = Differences(source, m); // the source is paused here, the destination not started
                    m.Start();
                    return Task.CompletedTask;
                }, TimeSpan.FromSeconds(30));
                return null;
            }
            catch (Exception e)
            {
                pair.Destination.Close(); // as a destination host that gives up does
                return e;
            }
        });
        var stream = wrapSource?.Invoke(pair.Source) ?? pair.Source;
        var outcome = await MigrationSource.SendAsync(source, stream, options ?? new MigrationOptions { MaxRounds = 5 }, null, cancellationToken);
        pair.Source.Close(); // as the product does once the source has its answer
        var error = await receive.WaitAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
        return (outcome, error, differing);
    }
}
