using Vdi.Guest.Desktop;
using Vdi.Vmm.Devices;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Host;
using Vdi.Vmm.Machine;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Tests.State;

/// <summary>Devices' sections: the UART's registers and FIFO, the host requests not yet read, the virtio transports — out and back, and hostile values refused.</summary>
public sealed class DeviceStateTests
{
    [Fact]
    public void The_uart_keeps_its_registers_and_the_bytes_waiting_in_its_fifo()
    {
        var uart = new Serial16550();
        Write(uart, 1, 0x01); // IER: received-data interrupts
        Write(uart, 7, 0x5A); // scratch
        uart.Inject("abc"u8);
        var restored = new Serial16550();
        restored.RestoreState(RoundTrip(uart));

        Assert.Equal(0x5A, Read(restored, 7));
        Assert.Equal(0xC4, Read(restored, 2)); // IIR: received data pending, FIFOs on
        Assert.Equal("abc", string.Concat(Enumerable.Range(0, 3).Select(_ => (char)Read(restored, 0))));
        Assert.Equal(0xC1, Read(restored, 2)); // nothing left
    }

    [Fact]
    public void A_fifo_larger_than_the_uarts_is_refused()
    {
        var state = Section("uart.com1", s => s.U64("ier", 0).U64("lcr", 3).U64("mcr", 8).U64("scr", 0).U64("dll", 12).U64("dlm", 0).Bool("thr_pending", false).Bytes("rx", new byte[17]));
        Assert.Contains("FIFO", Assert.Throws<StateFormatException>(() => new Serial16550().RestoreState(state)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Host_requests_not_yet_read_are_kept_in_order()
    {
        var power = new PowerDebugPort(0, _ => { }, null);
        Assert.True(power.PostRequest(PortMap.HostRequestMotionOn));
        Assert.True(power.PostRequest(PortMap.HostRequestPowerOff));
        var restored = new PowerDebugPort(0, _ => { }, null);
        restored.RestoreState(RoundTrip(power));
        Assert.Equal([PortMap.HostRequestMotionOn, PortMap.HostRequestPowerOff, PortMap.HostRequestNone], Enumerable.Range(0, 3).Select(_ => ReadRequest(restored)));
        Assert.Throws<StateFormatException>(() => restored.RestoreState(Section("power", s => s.Bytes("requests", new byte[PortMap.HostRequestQueueLength + 1]))));
    }

    [Fact]
    public async Task A_live_desktops_transports_restore_to_the_same_state_and_a_misplaced_queue_changes_nothing()
    {
        using var source = MachineBuilder.Build(new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software });
        source.Start();
        await LocalDesktop.WhenIdleAsync(source, TimeSpan.FromSeconds(30));
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var saved = Save(source);
        var memory = new byte[128 << 20];
        Assert.True(source.Memory.TryRead(0, memory));
        source.Stop();

        using var destination = MachineBuilder.Build(new MachineConfig { Image = DesktopGuest.Build(), MemoryMiB = 128, Engine = EngineChoice.Software });
        destination.Memory.Write(0, memory);
        destination.RestoreDevices(StateReader.Read(new MemoryStream(saved)));
        Assert.Equal(saved, Save(destination));
        Assert.All(destination.Devices.Transports, t => Assert.Equal(source.Devices.Transports[0].Status, t.Status)); // every driver live

        // The GPU's control queue placed outside RAM: refused, and the transport is as it was.
        var gpu = StateReader.Read(new MemoryStream(saved)).Take("virtio.0", 1);
        var hostile = Rewrite(gpu, "q_desc", s => s.U64s("q_desc", [0x7FFF_0000_0000, .. gpu.U64s("q_desc")[1..]]));
        Assert.Contains("outside guest RAM", Assert.Throws<StateFormatException>(() => destination.Devices.Transports[0].RestoreState(hostile)).Message, StringComparison.Ordinal);
        Assert.Equal(saved, Save(destination));

        // The GPU's own section, each field made one the guest could never have caused: refused, nothing changed.
        var device = StateReader.Read(new MemoryStream(saved)).Take("gpu", 2);
        var widths = device.U64s("res_widths");
        var ids = device.U64s("res_ids");
        SavedSection[] hostileGpu =
        [
            Rewrite(device, "res_widths", s => s.U64s("res_widths", [8000, .. widths[1..]])),
            Rewrite(device, "res_pixels", s => s.Bytes("res_pixels", device.Bytes("res_pixels").AsSpan(..^4))),
            Rewrite(device, "scanout_rect", s => s.U64s("scanout_rect", [0, 0, 7681, 1])),
            Rewrite(device, "res_backing", s => s.U64s("res_backing", [.. device.U64s("res_backing")[..^2], 0x7FFF_0000_0000, 4096])),
            Rewrite(device, "edid", s => s.Bytes("edid", new byte[100])),
            Rewrite(device, "res_precopied", s => s.U64s("res_precopied", [ids[0]])), // pre-copied pixels that never came
            Rewrite(device, "res_precopied", s => s.U64s("res_precopied", [ids[^1] + 1])), // a resource it does not hold
        ];
        foreach (var bad in hostileGpu)
            Assert.Throws<StateFormatException>(() => destination.Devices.Gpu.RestoreState(bad));
        Assert.Equal(saved, Save(destination));
    }

    /// <summary><paramref name="section"/> again, with <paramref name="field"/> written by <paramref name="write"/> instead.</summary>
    private static SavedSection Rewrite(SavedSection section, string field, Action<SectionWriter> write) =>
        Section(section.Name, s => StateStreams.CopyFields(section, s, (field, write)), section.Version);

    private static byte[] Save(Vmm.Machine.Machine machine) => StateStreams.DevicesWithoutTime(machine);

    private static SavedSection RoundTrip(IDeviceState device)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        writer.Section(device.SectionName, device.SectionVersion, device.SaveState);
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream).Take(device.SectionName, device.SectionVersion);
    }

    private static SavedSection Section(string name, Action<SectionWriter> fields, ushort version = 1)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        writer.Section(name, version, fields);
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream).Take(name, version);
    }

    private static void Write(IBusDevice device, int offset, byte value) =>
        device.Write(new BusAccess((ulong)offset, (ulong)(PortMap.Com1 + offset), 0), [value]);

    private static byte Read(IBusDevice device, int offset)
    {
        Span<byte> data = stackalloc byte[1];
        device.Read(new BusAccess((ulong)offset, (ulong)(PortMap.Com1 + offset), 0), data);
        return data[0];
    }

    private static byte ReadRequest(PowerDebugPort power)
    {
        Span<byte> data = stackalloc byte[1];
        power.Read(new BusAccess(PortMap.HostRequest - PortMap.PowerBase, PortMap.HostRequest, 0), data);
        return data[0];
    }
}

/// <summary>
/// A running desktop's input devices, vCPUs and memory restored into a fresh machine — on the same engine or the other —
/// every key typed before the save reaches the terminal after it. Same engine: every device section restores as saved.
/// </summary>
public sealed class InputStateTests
{
    [Fact]
    public Task Keys_waiting_in_the_keyboard_at_the_save_are_typed_after_the_restore() => TypedAfterRestoreAsync(EngineChoice.Software, EngineChoice.Software);

    [Theory]
    [Trait("Requires", Vdi.Vmm.Tests.Machine.KvmMachines.Trait)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Kvm)]
    [InlineData(EngineChoice.Kvm, EngineChoice.Software)]
    [InlineData(EngineChoice.Software, EngineChoice.Kvm)]
    public Task On_KVM_keys_waiting_in_the_keyboard_at_the_save_are_typed_after_the_restore(EngineChoice from, EngineChoice to) => TypedAfterRestoreAsync(from, to);

    private static async Task TypedAfterRestoreAsync(EngineChoice from, EngineChoice to)
    {
        var image = DesktopGuest.Build();
        using var source = MachineBuilder.Build(new MachineConfig { Image = image, MemoryMiB = 128, Engine = from });
        source.Start();
        await LocalDesktop.WhenIdleAsync(source, TimeSpan.FromSeconds(30));
        Assert.True(source.PauseAll(TimeSpan.FromSeconds(10)));
        var text = string.Concat(Enumerable.Repeat("snapshot ", 12)); // more events than the driver has buffers posted
        Assert.Equal("", Vdi.Vmm.Devices.Input.UsKeyboardLayout.Type(source.Devices.Keyboard, text));
        Assert.True(source.Devices.Keyboard.PendingEvents > 0, "every event found a buffer: nothing waits in the device");
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        source.SaveVcpus(writer);
        source.SaveDevices(writer);
        writer.Finish();
        var memory = new byte[128 << 20];
        Assert.True(source.Memory.TryRead(0, memory));
        var sourceDelivered = source.Devices.Keyboard.DeliveredEvents;
        var sourceDevices = StateStreams.DevicesWithoutTime(source);
        source.Stop();

        using var destination = MachineBuilder.Build(new MachineConfig { Image = image, MemoryMiB = 128, Engine = to });
        destination.Memory.Write(0, memory);
        stream.Position = 0;
        var state = StateReader.Read(stream);
        destination.RestoreVcpus(state);
        destination.RestoreDevices(state);
        state.EnsureAllTaken();
        var restored = StateStreams.DevicesWithoutTime(destination);
        string[] engineOwn = from == to ? [] : [PicState.SectionName, PitState.SectionName]; // the software engine has neither: it writes them masked and unprogrammed
        foreach (var section in StateReader.Read(new MemoryStream(sourceDevices)).Sections.Where(x => !engineOwn.Contains(x.Name)))
            Assert.True(StateStreams.SectionBytes(section).SequenceEqual(StateStreams.SectionBytes(StateReader.Read(new MemoryStream(restored)).Take(section.Name, section.Version))), $"section '{section.Name}' did not restore as saved ({from} to {to})");
        Assert.True(destination.Devices.Keyboard.PendingEvents > 0, $"restored keyboard: pending {destination.Devices.Keyboard.PendingEvents}, delivered {destination.Devices.Keyboard.DeliveredEvents}; sections {string.Join(",", state.Sections.Select(x => x.Name))}");
        destination.Start();

        string Typed() => DesktopText.Read(image, destination.Memory);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Typed().EndsWith(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the terminal shows '{Typed()}'; keyboard pending {destination.Devices.Keyboard.PendingEvents} delivered {destination.Devices.Keyboard.DeliveredEvents} (source {sourceDelivered}); transport {destination.Devices.Transports[1].Status} {destination.Devices.Transports[1].LastError}; vcpu {string.Join(",", destination.VcpuStates)}");
            await Task.Delay(10);
        }
        Assert.Equal(0, destination.Devices.Keyboard.DroppedEvents);
        Assert.Equal(0, destination.Devices.Gpu.ErrorResponses); // the GPU came along: the guest's flushes find their resources
        Assert.Equal(source.Devices.Gpu.Display, destination.Devices.Gpu.Display);
        destination.Stop();
    }
}
