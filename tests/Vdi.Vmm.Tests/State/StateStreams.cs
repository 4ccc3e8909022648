using Vdi.Vmm.State;

namespace Vdi.Vmm.Tests.State;

/// <summary>State streams for the state tests: a machine's sections saved, read back, sections copied with changes.</summary>
internal static class StateStreams
{
    /// <summary>The machine's devices' sections, with the guest clock's <c>ns</c> set to 0: it moves on with time, so it is compared apart.</summary>
    public static byte[] DevicesWithoutTime(Vmm.Machine.Machine machine)
    {
        using var raw = new MemoryStream();
        var writer = new StateWriter(raw);
        machine.SaveDevices(writer);
        writer.Finish();
        raw.Position = 0;
        using var stream = new MemoryStream();
        var copy = new StateWriter(stream);
        foreach (var section in StateReader.Read(raw).Sections)
            copy.Section(section.Name, section.Version, s => CopyFields(section, s, section.Name == GuestClockState.SectionName ? ("ns", w => w.U64("ns", 0)) : null));
        copy.Finish();
        return stream.ToArray();
    }

    /// <summary>Writes <paramref name="machine"/>'s vCPUs and devices and reads them back.</summary>
    public static SavedState Save(Vmm.Machine.Machine machine, bool vcpus = true, bool devices = true)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        if (vcpus)
            machine.SaveVcpus(writer);
        if (devices)
            machine.SaveDevices(writer);
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream);
    }

    /// <summary><paramref name="state"/>'s sections copied, <paramref name="field"/> of <paramref name="section"/> written by <paramref name="write"/> instead.</summary>
    public static SavedState Copy(SavedState state, string? section = null, string? field = null, Action<SectionWriter>? write = null)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        foreach (var s in state.Sections)
            writer.Section(s.Name, s.Version, w => CopyFields(s, w, s.Name == section && field is not null && write is not null ? (field, write) : null));
        writer.Finish();
        stream.Position = 0;
        return StateReader.Read(stream);
    }

    /// <summary>One section written alone: two sections hold the same state when these bytes are equal.</summary>
    public static byte[] SectionBytes(SavedSection section)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        writer.Section(section.Name, section.Version, w => CopyFields(section, w));
        writer.Finish();
        return stream.ToArray();
    }

    /// <summary>Every field of <paramref name="from"/> into <paramref name="to"/>, in order; the one named in <paramref name="replace"/> written by it instead.</summary>
    public static void CopyFields(SavedSection from, SectionWriter to, (string Field, Action<SectionWriter> Write)? replace = null)
    {
        foreach (var name in from.FieldNames)
        {
            if (replace is { } r && name == r.Field)
            {
                r.Write(to);
                continue;
            }
            _ = from.TypeOf(name) switch
            {
                StateFieldType.U64 => to.U64(name, from.U64(name)),
                StateFieldType.I64 => to.I64(name, from.I64(name)),
                StateFieldType.F64 => to.F64(name, from.F64(name)),
                StateFieldType.Bool => to.Bool(name, from.Bool(name)),
                StateFieldType.Bytes => to.Bytes(name, from.Bytes(name)),
                StateFieldType.Text => to.Text(name, from.Text(name)),
                _ => to.U64s(name, from.U64s(name)),
            };
        }
    }
}
