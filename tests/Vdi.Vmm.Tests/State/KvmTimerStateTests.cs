using System.Buffers.Binary;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.State;

/// <summary>
/// The KVM local APIC timer's time left, from the register page <c>KVM_GET_LAPIC</c> gives: KVM reports a periodic
/// timer's current count modulo its period, and 0 when its host timer ran late past an expiry — that timer is due,
/// not stopped (saved as stopped, a guest that halts between ticks never woke on the other engine).
/// </summary>
public sealed class KvmTimerStateTests
{
    private const int LvtTimer = 0x320, Initial = 0x380, Current = 0x390, Divide = 0x3E0;

    [Theory]
    [InlineData(1u << 17, 1000u, 0u, 0L)] // periodic, expiry past: due now
    [InlineData(1u << 17, 1000u, 500u, 500L * 2)] // periodic, half-way (divide by 2)
    [InlineData(0u, 1000u, 0u, -1L)] // one-shot that fired: stopped
    [InlineData(1u << 17, 0u, 0u, -1L)] // periodic with no initial count: stopped
    [InlineData((1u << 17) | (1u << 16), 1000u, 0u, 0L)] // masked periodic still counts: due now
    [InlineData(2u << 17, 0u, 0u, -1L)] // TSC deadline, not counting
    public void A_timer_page_gives_its_time_left(uint lvt, uint initial, uint current, long expected)
    {
        var page = new byte[1024];
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(LvtTimer), lvt);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(Initial), initial);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(Current), current);
        BinaryPrimitives.WriteUInt32LittleEndian(page.AsSpan(Divide), 0); // divide by 2
        Assert.Equal(expected, KvmVcpuState.TimerLeft(page));
    }
}
