using Vdi.Vmm.Boot;
using Vdi.Vmm.Execution;
using Vdi.Vmm.Images;
using Vdi.Vmm.State;
using Vdi.Vmm.Tests.Machine;

namespace Vdi.Vmm.Tests.State;

/// <summary>
/// The platform's sections — PIC, I/O APIC, PIT, clock —: KVM's in-kernel ones restore as saved and the clock goes
/// on; the software engine refuses a programmed PIT or a PIC that would deliver, with the reason, changing nothing,
/// and takes KVM's I/O APIC as its own.
/// </summary>
public sealed class PlatformStateTests
{
    private const ulong ClockNs = 5_000_000_000;

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public void Kvm_restores_its_pic_ioapic_and_pit_as_saved_and_the_clock_goes_on()
    {
        using var machine = KvmMachines.Build(Idle(), memoryMiB: 8, engine: EngineChoice.Kvm, exitStormSwitching: false);
        var wanted = Programmed(StateStreams.Save(machine, vcpus: false));
        machine.RestoreDevices(wanted);
        var got = StateStreams.Save(machine, vcpus: false);

        foreach (var name in (string[])[PicState.SectionName, IoApicState.SectionName, PitState.SectionName])
            Assert.True(StateStreams.SectionBytes(Take(wanted, name)).SequenceEqual(StateStreams.SectionBytes(Take(got, name))), $"section '{name}' did not restore as saved");
        Assert.InRange(GuestClockState.Read(Take(got, GuestClockState.SectionName)), ClockNs, ClockNs + 10_000_000_000);
    }

    [Fact]
    [Trait("Requires", KvmMachines.Trait)]
    public void Kvms_programmed_pit_and_pic_are_refused_by_the_software_engine_which_takes_kvms_ioapic()
    {
        using var kvm = KvmMachines.Build(Idle(), memoryMiB: 8, engine: EngineChoice.Kvm, exitStormSwitching: false);
        kvm.RestoreDevices(Programmed(StateStreams.Save(kvm, vcpus: false)));
        var fromKvm = StateStreams.Save(kvm, vcpus: false);
        using var software = KvmMachines.Build(Idle(), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var before = StateStreams.DevicesWithoutTime(software);

        Assert.Contains("the PIC master is initialised (vector base 0x20) with lines unmasked (IMR 0xFB)", Refusal(software, fromKvm), StringComparison.Ordinal);
        var maskedPic = Replace(fromKvm, PicState.SectionName, PicState.Masked().Write);
        Assert.Contains("PIT channel 2 is programmed (mode 3, count 1193)", Refusal(software, maskedPic), StringComparison.Ordinal);
        Assert.Equal(before, StateStreams.DevicesWithoutTime(software));

        software.RestoreDevices(Replace(maskedPic, PitState.SectionName, PitState.Unprogrammed().Write));
        var ioapic = StateStreams.SectionBytes(Take(StateStreams.Save(software, vcpus: false), IoApicState.SectionName));
        Assert.Equal(StateStreams.SectionBytes(Take(fromKvm, IoApicState.SectionName)), ioapic);
    }

    [Fact]
    public void The_software_engine_refuses_a_programmed_pit_or_a_pic_that_would_deliver_and_changes_nothing()
    {
        using var software = KvmMachines.Build(Idle(), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var saved = StateStreams.Save(software, vcpus: false);
        Assert.Equal(StateStreams.SectionBytes(Take(saved, PitState.SectionName)), StateStreams.SectionBytes(Take(Replace(saved, PitState.SectionName, PitState.Unprogrammed().Write), PitState.SectionName)));
        var before = StateStreams.DevicesWithoutTime(software);

        Assert.Contains("PIT channel 2 is programmed", Refusal(software, Replace(Programmed(saved), PicState.SectionName, PicState.Masked().Write)), StringComparison.Ordinal);
        var inService = Replace(saved, PicState.SectionName, w => (PicState.Masked() with { Slave = [.. PicState.Masked().Slave.Select((b, i) => i == PicState.Isr ? (byte)0x10 : b)] }).Write(w));
        Assert.Contains("the PIC slave has interrupts in service (ISR 0x10)", Refusal(software, inService), StringComparison.Ordinal);
        Assert.Equal(before, StateStreams.DevicesWithoutTime(software));
    }

    [Fact]
    public void A_masked_edge_waits_for_the_unmask_on_the_software_ioapic_and_travels_in_its_irr()
    {
        using var software = KvmMachines.Build(Idle(), memoryMiB: 8, engine: EngineChoice.Software, exitStormSwitching: false);
        var state = Programmed(StateStreams.Save(software, vcpus: false));
        var ioapic = IoApicState.Read(Take(state, IoApicState.SectionName));
        var restored = new Vdi.Vmm.Execution.Software.SoftIoApic((_, _) => { }) { Record = true };
        restored.RestoreState(Section(ioapic.Write));
        Assert.Equal(ioapic, IoApicState.Read(Section(restored.SaveState)), new IoApicComparer());

        restored.Write(Vdi.Vmm.Devices.ApicRegisters.IoRegisterSelect, Vdi.Vmm.Devices.ApicRegisters.IoRedirectionTable + 8); // pin 4, low
        restored.Write(Vdi.Vmm.Devices.ApicRegisters.IoWindow, 0x41); // unmasked: the waiting edge is delivered
        Assert.Equal([(byte)0x41], restored.Delivered);
        Assert.Equal(0u, IoApicState.Read(Section(restored.SaveState)).Irr & (1u << 4));
    }

    /// <summary>
    /// <paramref name="state"/> with a set-up PIC (vectors 0x20 and 0x28, ICW4, all but the cascade line masked), an
    /// I/O APIC with a masked edge pin holding a request and a level pin awaiting its EOI, PIT channel 2 in mode 3 (it
    /// raises no interrupt, so nothing moves meanwhile), and the clock at 5 s.
    /// </summary>
    private static SavedState Programmed(SavedState state)
    {
        var pic = PicState.Masked();
        (pic.Master[PicState.IrqBase], pic.Master[PicState.Imr], pic.Master[PicState.Init4]) = (0x20, 0xFB, 1);
        (pic.Slave[PicState.IrqBase], pic.Slave[PicState.Init4]) = (0x28, 1);
        var redirection = Enumerable.Range(0, IoApicState.Pins * 2).Select(i => i % 2 == 0 ? 0x10000u : 0).ToArray();
        (redirection[8], redirection[32], redirection[33]) = (0x10041, 0x8030, 0x0100_0000); // pin 4: masked edge; pin 16: level, to APIC 1
        var ioapic = new IoApicState { Redirection = redirection, RemoteIrr = [.. Enumerable.Range(0, IoApicState.Pins).Select(p => p == 16)], Select = 0x12, Irr = 1u << 4, Id = 2 };
        var pit = PitState.Unprogrammed();
        (pit.Channels[2][PitState.Mode], pit.Channels[2][PitState.Count], pit.Channels[2][8]) = (3, 1193, 3); // rw_mode: low then high byte
        state = Replace(state, PicState.SectionName, pic.Write);
        state = Replace(state, IoApicState.SectionName, ioapic.Write);
        state = Replace(state, PitState.SectionName, pit.Write);
        return Replace(state, GuestClockState.SectionName, w => GuestClockState.Write(w, ClockNs));
    }

    private static string Refusal(Vmm.Machine.Machine machine, SavedState state) =>
        Assert.Throws<StateFormatException>(() => machine.RestoreDevices(StateStreams.Copy(state))).Message;

    private static SavedState Replace(SavedState state, string name, Action<SectionWriter> write)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        foreach (var s in state.Sections)
            writer.Section(s.Name, s.Version, w => { if (s.Name == name) write(w); else StateStreams.CopyFields(s, w); });
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream);
    }

    private static SavedSection Take(SavedState state, string name) => state.Sections.Single(s => s.Name == name);

    private static SavedSection Section(Action<SectionWriter> write)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        writer.Section(IoApicState.SectionName, IoApicState.Version, write);
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream).Take(IoApicState.SectionName, IoApicState.Version);
    }

    /// <summary>A guest that only halts.</summary>
    private static GuestImage Idle() => GuestAssembly.Build("idle", GuestLayout.ImageBase, g => PowerPortEmitter.EmitHaltForever(g.Asm));

    private sealed class IoApicComparer : IEqualityComparer<IoApicState>
    {
        public bool Equals(IoApicState? x, IoApicState? y) => x is not null && y is not null && x.Redirection.SequenceEqual(y.Redirection)
            && x.RemoteIrr.SequenceEqual(y.RemoteIrr) && (x.Select, x.Irr, x.Id) == (y.Select, y.Irr, y.Id);

        public int GetHashCode(IoApicState obj) => obj.Select.GetHashCode();
    }
}
