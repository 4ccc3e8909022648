using System.Buffers.Binary;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Tests.State;

/// <summary>The machine-state format: every field type round trips; anything unknown, newer, missing, mistyped, truncated or oversized is refused by name.</summary>
public sealed class StateFormatTests
{
    [Fact]
    public void Every_field_type_round_trips_in_named_versioned_sections()
    {
        var state = Read(Sample());

        Assert.Equal(["vcpu.0", "uart.com1"], state.Sections.Select(s => s.Name));
        var vcpu = state.Take("vcpu.0", 2);
        Assert.Equal(2, vcpu.Version);
        Assert.Equal(0xFFFF_FFFF_FFFF_FFF0UL, vcpu.U64("rip"));
        Assert.Equal(-5L, vcpu.I64("offset"));
        Assert.Equal(1.5, vcpu.F64("ratio"));
        Assert.True(vcpu.Bool("halted"));
        Assert.Equal(new byte[512], vcpu.Bytes("fxsave", 512));
        Assert.Equal("ünïcode", vcpu.Text("note"));
        Assert.Equal([1UL, 2, 3], vcpu.U64s("msrs"));
        vcpu.EnsureAllRead();
        var uart = state.Take("uart.com1", 1);
        Assert.Equal(0x3FUL, uart.U64("ier", 0, 0xFF));
        Assert.Equal([], uart.Bytes("pending"));
        uart.EnsureAllRead();
        state.EnsureAllTaken();
    }

    [Fact]
    public void A_section_nobody_restores_is_refused_by_name()
    {
        var state = Read(Sample());
        state.Take("vcpu.0", 2);
        var e = Assert.Throws<StateFormatException>(state.EnsureAllTaken);
        Assert.Contains("'uart.com1'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_nobody_reads_is_refused_by_name()
    {
        var uart = Read(Sample()).Take("uart.com1", 1);
        uart.U64("ier");
        var e = Assert.Throws<StateFormatException>(uart.EnsureAllRead);
        Assert.Contains("'pending'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_newer_section_a_missing_field_a_mistyped_field_and_an_out_of_range_value_are_refused_by_name()
    {
        var state = Read(Sample());
        Assert.Contains("version 2", Assert.Throws<StateFormatException>(() => state.Take("vcpu.0", 1)).Message, StringComparison.Ordinal);
        Assert.Contains("no section 'gpu'", Assert.Throws<StateFormatException>(() => state.Take("gpu", 1)).Message, StringComparison.Ordinal);
        var vcpu = state.Take("vcpu.0", 2);
        Assert.Contains("no field 'rsp'", Assert.Throws<StateFormatException>(() => vcpu.U64("rsp")).Message, StringComparison.Ordinal);
        Assert.Contains("'rip' is U64, not Bytes", Assert.Throws<StateFormatException>(() => vcpu.Bytes("rip")).Message, StringComparison.Ordinal);
        Assert.Contains("'fxsave' is 512 bytes, not 256", Assert.Throws<StateFormatException>(() => vcpu.Bytes("fxsave", 256)).Message, StringComparison.Ordinal);
        var uart = state.Take("uart.com1", 1);
        Assert.Contains("'ier' is 63, outside [0, 15]", Assert.Throws<StateFormatException>(() => uart.U64("ier", 0, 15)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_truncation_is_refused_as_a_format_error()
    {
        var bytes = Sample();
        for (var length = 0; length < bytes.Length; length++)
            Assert.Throws<StateFormatException>(() => Read(bytes[..length]));
    }

    [Fact]
    public void Random_damage_is_a_format_error_or_a_valid_stream_never_anything_else()
    {
        var random = new Random(12);
        var sample = Sample();
        for (var round = 0; round < 5000; round++)
        {
            var bytes = (byte[])sample.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            try
            {
                Read(bytes);
            }
            catch (StateFormatException)
            {
            }
        }
    }

    [Theory]
    [InlineData("magic")]
    [InlineData("version")]
    [InlineData("huge")]
    [InlineData("twice")]
    [InlineData("name")]
    [InlineData("trailing")]
    public void A_hostile_header_is_refused(string damage)
    {
        var bytes = Sample();
        switch (damage)
        {
            case "magic":
                bytes[0] = (byte)'X';
                break;
            case "version":
                bytes[4] = 2;
                break;
            case "huge": // the first section declares more than a section may hold: refused before anything is allocated for it
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(6 + 2 + "vcpu.0".Length + 2), StateFormat.MaxSectionBytes + 1U);
                break;
            case "twice":
                bytes = Sample(twice: true);
                break;
            case "name":
                bytes[6 + 2] = (byte)'V'; // "Vcpu.0"
                break;
            default:
                bytes[^1] = 7; // no end marker
                break;
        }
        Assert.Throws<StateFormatException>(() => Read(bytes));
    }

    [Fact]
    public void The_writer_refuses_bad_names_and_duplicates()
    {
        var writer = new StateWriter(new MemoryStream());
        Assert.Throws<ArgumentException>(() => writer.Section("CPU", 1, _ => { }));
        Assert.Throws<ArgumentException>(() => writer.Section("cpu", 1, s => s.U64("a.b", 1)));
        Assert.Throws<ArgumentException>(() => writer.Section("cpu2", 1, s => s.U64("a", 1).U64("a", 2)));
        writer.Section("cpu3", 1, _ => { });
        Assert.Throws<ArgumentException>(() => writer.Section("cpu3", 1, _ => { }));
    }

    private static byte[] Sample(bool twice = false)
    {
        using var stream = new MemoryStream();
        var writer = new StateWriter(stream);
        writer.Section("vcpu.0", 2, s => s
            .U64("rip", 0xFFFF_FFFF_FFFF_FFF0)
            .I64("offset", -5)
            .F64("ratio", 1.5)
            .Bool("halted", true)
            .Bytes("fxsave", new byte[512])
            .Text("note", "ünïcode")
            .U64s("msrs", [1, 2, 3]));
        writer.Section("uart.com1", 1, s => s.U64("ier", 0x3F).Bytes("pending", []));
        writer.Finish();
        var bytes = stream.ToArray();
        if (!twice)
            return bytes;
        var first = bytes.AsSpan(6, 2 + 6 + 6 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(6 + 2 + 6 + 2)));
        return [.. bytes[..^1], .. first, 0];
    }

    private static SavedState Read(byte[] bytes) => StateReader.Read(new MemoryStream(bytes));
}
