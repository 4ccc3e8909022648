using Vdi.Vmm.Introspection;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tests.Introspection;

/// <summary>Fault-safe reads by guest-virtual address: an error result, or a handler that supplies the bytes or fixes the cause.</summary>
public sealed class GuestReaderTests : IDisposable
{
    private const ulong Pml4 = 0x1000, Pdpt = 0x2000, Pd = 0x3000, Pt = 0x4000, Data = 0x8000;
    private readonly GuestMemory _memory = new();

    public GuestReaderTests()
    {
        _memory.AddRam(0, 1UL << 20);
        _memory.Write(Pml4, Pdpt | 3);
        _memory.Write(Pdpt, Pd | 3);
        _memory.Write(Pd, Pt | 3);
        _memory.Write(Pt + (0x10 * 8), Data | 3);          // 0x10000 → Data
        _memory.Write(Pt + (0x11 * 8), (Data + 0x1000) | 3); // 0x11000 → Data + 0x1000; 0x12000 not mapped
        for (var i = 0UL; i < 0x2000; i += 8)
            _memory.Write(Data + i, 0x0101_0101_0101_0101UL * ((i / 0x1000) + 1));
    }

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void A_read_across_pages_follows_each_page()
    {
        var bytes = new byte[16];
        var read = GuestReader.Read(_memory, Pml4, 0x10FF8, bytes);
        Assert.True(read.Succeeded);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2], bytes);
    }

    [Theory]
    [InlineData(0x12000UL, WalkFault.NotPresent)]
    [InlineData(0x8000_0000_0000UL, WalkFault.NonCanonical)]
    public void Without_a_handler_a_fault_is_an_error_result(ulong linear, WalkFault fault)
    {
        var read = GuestReader.Read(_memory, Pml4, linear, new byte[8]);
        Assert.False(read.Succeeded);
        Assert.Equal(new IntrospectionFault(linear, fault), read.Fault);
    }

    [Fact]
    public void The_bytes_before_a_fault_are_read_and_counted()
    {
        var read = GuestReader.Read(_memory, Pml4, 0x11FFC, new byte[8]);
        Assert.Equal((false, 4, 0x12000UL), (read.Succeeded, read.Length, read.Fault!.Value.Linear));
    }

    [Fact]
    public void A_handler_can_supply_the_missing_bytes()
    {
        var bytes = new byte[8];
        var read = GuestReader.Read(_memory, Pml4, 0x11FFC, bytes, (fault, missing) =>
        {
            Assert.Equal(0x12000UL, fault.Linear);
            missing.Fill(0xEE);
            return FaultResolution.Supplied;
        });
        Assert.True(read.Succeeded);
        Assert.Equal([2, 2, 2, 2, 0xEE, 0xEE, 0xEE, 0xEE], bytes);
    }

    [Fact]
    public void A_handler_can_fix_the_cause_and_retry()
    {
        var bytes = new byte[8];
        var read = GuestReader.Read(_memory, Pml4, 0x12000, bytes, (_, _) =>
        {
            _memory.Write(Pt + (0x12 * 8), Data | 3);
            return FaultResolution.Retry;
        });
        Assert.Equal((true, 1), (read.Succeeded, read.Retries));
        Assert.Equal(0x0101_0101_0101_0101UL, BitConverter.ToUInt64(bytes));
    }

    [Fact]
    public void A_handler_that_keeps_retrying_ends_in_an_error()
    {
        var calls = 0;
        var read = GuestReader.Read(_memory, Pml4, 0x12000, new byte[8], (_, _) => { calls++; return FaultResolution.Retry; });
        Assert.False(read.Succeeded);
        Assert.Equal(GuestReader.MaxRetries + 1, calls);
    }
}
