using Vdi.Vmm.Devices;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Tests.Hypercalls;

public sealed class HypercallDispatcherTests
{
    private readonly AccessLog _log = new();
    private readonly HypercallDispatcher _dispatcher;

    public HypercallDispatcherTests() => _dispatcher = new HypercallDispatcher(_log);

    private static VcpuRegisters Call(ulong number, ulong rbx = 0, ulong rcx = 0, ulong rsi = 0, ulong rdi = 0) =>
        default(VcpuRegisters) with { Rax = number, Rbx = rbx, Rcx = rcx, Rsi = rsi, Rdi = rdi };

    [Fact]
    public void PingReturnsTheVmmSignature()
    {
        Assert.Equal(HypercallNumbers.PingReply, _dispatcher.Dispatch(0, Call(HypercallNumbers.Ping)));
        Assert.Equal("VDI1"u8.ToArray(), BitConverter.GetBytes((uint)HypercallNumbers.PingReply).Reverse());
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(42UL)]
    [InlineData(ulong.MaxValue)]
    public void EchoReturnsRbx(ulong value) =>
        Assert.Equal(value, _dispatcher.Dispatch(3, Call(HypercallNumbers.Echo, rbx: value, rcx: 1)));

    [Fact]
    public void DuplicateRegistrationIsRefusedAndKeepsTheFirstHandler()
    {
        _dispatcher.Register(0x100, (in HypercallContext _) => 1);

        Assert.Throws<InvalidOperationException>(() => _dispatcher.Register(0x100, (in HypercallContext _) => 2));
        Assert.Throws<InvalidOperationException>(() => _dispatcher.Register(HypercallNumbers.Echo, (in HypercallContext _) => 2));

        Assert.Equal(1UL, _dispatcher.Dispatch(0, Call(0x100)));
        Assert.Equal(9UL, _dispatcher.Dispatch(0, Call(HypercallNumbers.Echo, rbx: 9)));
    }

    [Fact]
    public void CustomHandlerSeesTheCallingVcpuNumberAndRegisters()
    {
        var seen = new List<HypercallContext>();
        _dispatcher.Register(0x42, (in HypercallContext c) =>
        {
            seen.Add(c);
            return c.Registers.Rcx + c.Registers.Rsi;
        });
        var registers = Call(0x42, rbx: 1, rcx: 2, rsi: 3, rdi: 4) with { Rip = 0x10_0010 };

        var result = _dispatcher.Dispatch(5, registers);

        Assert.Equal(5UL, result);
        Assert.Equal([new HypercallContext(5, 0x42, registers)], seen);
    }

    [Fact]
    public void NumberComesFromEaxOnly()
    {
        _dispatcher.Register(7, (in HypercallContext c) => c.Number);

        Assert.Equal(7UL, _dispatcher.Dispatch(0, Call(0xFFFF_FFFF_0000_0007)));
    }

    [Fact]
    public void UnknownNumberReturnsUnsupportedAndIsLogged()
    {
        Assert.Equal(HypercallNumbers.Unsupported, _dispatcher.Dispatch(2, Call(0xBAD)));

        Assert.Equal(ulong.MaxValue, HypercallNumbers.Unsupported);
        Assert.Equal(
            new GuestAccess(AccessSpace.Pio, PortMap.Hypercall, 4, 0xBAD, true, 2, AccessOutcome.UnknownHypercall),
            Assert.Single(_log.Recent()));
    }

    [Fact]
    public void EveryCallIsCountedKnownOrNot()
    {
        _dispatcher.Dispatch(0, Call(HypercallNumbers.Ping));
        _dispatcher.Dispatch(0, Call(HypercallNumbers.Echo));
        _dispatcher.Dispatch(0, Call(0xBAD));

        Assert.Equal(3, _dispatcher.Calls);
        Assert.Equal(1, _log.Count(AccessOutcome.UnknownHypercall));
    }

    [Fact]
    public async Task HandlersRegisteredWhileCallsAreRunningAreSeen()
    {
        using var stop = new CancellationTokenSource();
        var caller = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
                Assert.Equal(HypercallNumbers.PingReply, _dispatcher.Dispatch(0, Call(HypercallNumbers.Ping)));
        });

        for (uint n = 100; n < 200; n++)
            _dispatcher.Register(n, (in HypercallContext c) => c.Number * 2);
        stop.Cancel();
        await caller.WaitAsync(TimeSpan.FromSeconds(10));

        for (uint n = 100; n < 200; n++)
            Assert.Equal(n * 2UL, _dispatcher.Dispatch(0, Call(n)));
    }
}
