using System.Buffers.Binary;
using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices.Input;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.Migration;

namespace Vdi.Vmm.Tests.Migration;

/// <summary>A desktop written to a snapshot and restored into a fresh machine shows the same pixels and terminal, and runs on.</summary>
[Collection(MigrationCollection.Name)]
public sealed class SnapshotTests
{
    [Fact]
    public async Task A_restored_desktop_shows_the_same_pixels_and_text_and_takes_more_keys()
    {
        var image = DesktopGuest.Build();
        var config = new MachineConfig { Image = image, MemoryMiB = 128, Engine = EngineChoice.Software };
        using var source = MachineBuilder.Build(config);
        source.Start();
        await LocalDesktop.WhenIdleAsync(source, TimeSpan.FromSeconds(30));
        Assert.Equal("", UsKeyboardLayout.Type(source.Devices.Keyboard, "before "));
        await TypedAsync(source, "before ");
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var pixels = source.Devices.Gpu.Capture()!;
        using var file = new MemoryStream();
        var figures = await MachineSnapshot.SaveAsync(source, file);
        source.Stop();
        Assert.Equal(128 * 256, figures.Pages);
        Assert.True(figures.ZeroPages > figures.Pages / 2, $"{figures.ZeroPages} of {figures.Pages} pages went as zero markers");
        Assert.Equal(file.Length, figures.Bytes);

        file.Position = 0;
        var identity = await MigrationTarget.ReadIdentityAsync(file);
        Assert.Equal(config.MemoryBytes, identity.MemoryBytes);
        Assert.Equal(image.Name, identity.ImageName);
        using var restored = MachineBuilder.Build(config);
        var receipt = await MigrationTarget.RestoreSnapshotAsync(restored, identity, file);
        Assert.Equal(figures.Pages, receipt.Pages);
        var again = restored.Devices.Gpu.Capture()!;
        Assert.Equal((pixels.Width, pixels.Height), (again.Width, again.Height));
        Assert.True(pixels.Pixels.AsSpan().SequenceEqual(again.Pixels), "the restored scanout shows other pixels");

        restored.Start();
        Assert.Equal("", UsKeyboardLayout.Type(restored.Devices.Keyboard, "after"));
        await TypedAsync(restored, "before after");
        Assert.Equal(0, restored.Devices.Gpu.ErrorResponses);
        restored.Stop();
    }

    [Fact]
    public async Task A_damaged_snapshot_is_refused_with_a_reason_at_every_cut_and_flip()
    {
        var image = Vdi.Guest.Bench.AbGuest.Build(16UL << 20, 1UL << 20);
        var config = new MachineConfig { Image = image, MemoryMiB = 32, Engine = EngineChoice.Software };
        using var source = MachineBuilder.Build(config);
        using var file = new MemoryStream();
        await MachineSnapshot.SaveAsync(source, file);
        var bytes = file.ToArray();

        // Cut anywhere (sampled, with every message boundary near the start): refused, never a crash or a hang.
        var random = new Random(7);
        var cuts = Enumerable.Range(0, 80).Select(i => i).Concat(Enumerable.Range(0, 40).Select(_ => random.Next(bytes.Length)));
        foreach (var cut in cuts)
            await Assert.ThrowsAsync<MigrationException>(() => RestoreAsync(config, bytes[..cut]));

        // A page entry aimed past RAM.
        var hostile = (byte[])bytes.Clone();
        var firstPages = MigrationWire.HeaderBytes + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        BinaryPrimitives.WriteUInt64LittleEndian(hostile.AsSpan(firstPages + MigrationWire.HeaderBytes + 4), 1UL << 40);
        Assert.Contains("outside the machine", (await Assert.ThrowsAsync<MigrationException>(() => RestoreAsync(config, hostile))).Message, StringComparison.Ordinal);

        // A lying length: the largest a Pages message may be, on a file that ends long before.
        var liar = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(liar.AsSpan(firstPages + 4), MigrationWire.MaxPayload(MigrationMessage.Pages));
        await Assert.ThrowsAsync<MigrationException>(() => RestoreAsync(config, liar[..(firstPages + 64)]));

        // Another machine's snapshot.
        using var bigger = MachineBuilder.Build(config with { MemoryMiB = 64 });
        var identity = await MigrationTarget.ReadIdentityAsync(new MemoryStream(bytes));
        Assert.Contains("MiB of RAM", (await Assert.ThrowsAsync<MigrationException>(() => MigrationTarget.RestoreSnapshotAsync(bigger, identity, new MemoryStream(bytes[firstPages..])))).Message, StringComparison.Ordinal);
    }

    private static async Task RestoreAsync(MachineConfig config, byte[] bytes)
    {
        using var machine = MachineBuilder.Build(config);
        var stream = new MemoryStream(bytes);
        var identity = await MigrationTarget.ReadIdentityAsync(stream);
        await MigrationTarget.RestoreSnapshotAsync(machine, identity, stream);
    }

    private static async Task TypedAsync(Vmm.Machine.Machine machine, string text)
    {
        string Typed() => DesktopText.Read(machine.Config.Image, machine.Memory);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Typed().EndsWith(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the terminal shows '{Typed()}', not '{text}'");
            await Task.Delay(10);
        }
        await Task.Delay(200); // the repaint after the last key
    }
}
