using System.Text;
using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Tests.Devices;

public sealed class Serial16550Tests
{
    private const int Rbr = 0, Thr = 0, Dll = 0, Ier = 1, Dlm = 1, Iir = 2, Lcr = 3, Mcr = 4, Lsr = 5, Scr = 7;
    private const byte LsrDataReady = 0x01, LsrThrEmpty = 0x20, LsrTransmitterEmpty = 0x40;
    private const byte IirNone = 0xC1, IirThrEmpty = 0xC2, IirReceivedData = 0xC4;

    private readonly RecordingInterruptLine _irq = new();
    private readonly Serial16550 _uart;

    public Serial16550Tests() => _uart = new Serial16550(_irq);

    private static BusAccess At(int offset) => new((ulong)offset, PortMap.Com1 + (ulong)offset, 0);

    private void Out(int offset, byte value) => Assert.True(_uart.Write(At(offset), [value]));

    private byte In(int offset)
    {
        Span<byte> data = [0];
        Assert.True(_uart.Read(At(offset), data));
        return data[0];
    }

    [Fact]
    public void TransmittedBytesBecomeOutputTextAndTheHoldingRegisterStaysEmpty()
    {
        foreach (var b in "Hi!\n"u8)
            Out(Thr, b);

        Assert.Equal("Hi!\n", _uart.Output.Text);
        Assert.Equal(LsrThrEmpty | LsrTransmitterEmpty, In(Lsr));
    }

    [Fact]
    public void DlabSwitchesTheFirstTwoRegistersToTheDivisorLatch()
    {
        Out(Ier, 0x00);
        Out(Lcr, 0x83); // DLAB, 8N1

        Assert.Equal(0x0C, In(Dll)); // reset divisor: 9600 baud
        Out(Dll, 0x01);
        Out(Dlm, 0x02);
        Assert.Equal(0x01, In(Dll));
        Assert.Equal(0x02, In(Dlm));

        Out(Lcr, 0x03);

        Assert.Equal(0x03, In(Lcr));
        Assert.Equal(0x00, In(Ier)); // the divisor write did not land in IER
        Assert.Equal("", _uart.Output.Text); // nor in THR
        Out(Thr, (byte)'x');
        Assert.Equal("x", _uart.Output.Text);
    }

    [Fact]
    public void LoopbackFeedsTransmittedBytesBackToTheReceiver()
    {
        Out(Mcr, 0x10);

        Out(Thr, (byte)'A');
        Out(Thr, (byte)'B');

        Assert.Equal("", _uart.Output.Text);
        Assert.Equal(LsrDataReady, In(Lsr) & LsrDataReady);
        Assert.Equal((byte)'A', In(Rbr));
        Assert.Equal((byte)'B', In(Rbr));
        Assert.Equal(0, In(Lsr) & LsrDataReady);
    }

    [Fact]
    public void InjectedBytesAreReadInOrderAndDataReadyFollowsTheFifo()
    {
        Assert.Equal(0, In(Lsr) & LsrDataReady);

        Assert.Equal(3, _uart.Inject("xyz"u8));

        Assert.Equal(LsrDataReady, In(Lsr) & LsrDataReady);
        Assert.Equal("xyz", Encoding.ASCII.GetString([In(Rbr), In(Rbr), In(Rbr)]));
        Assert.Equal(0, In(Lsr) & LsrDataReady);
        Assert.Equal(0, In(Rbr)); // empty FIFO
    }

    [Fact]
    public void InjectDropsWhatDoesNotFitTheSixteenByteFifo()
    {
        Assert.Equal(16, _uart.Inject(Enumerable.Range(0, 20).Select(i => (byte)i).ToArray()));
        Assert.Equal(0, _uart.Inject([99]));

        var received = Enumerable.Range(0, 16).Select(_ => In(Rbr)).ToArray();
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (byte)i), received);
        Assert.Equal(0, In(Lsr) & LsrDataReady);
    }

    [Fact]
    public void ReceivedDataRaisesTheLineUntilTheFifoIsDrained()
    {
        Out(Ier, 0x01);
        Assert.Empty(_irq.Levels); // nothing to report yet

        _uart.Inject("ab"u8);

        Assert.Equal([true], _irq.Levels);
        Assert.Equal(IirReceivedData, In(Iir));
        In(Rbr);
        Assert.True(_irq.Level); // one byte left
        In(Rbr);
        Assert.Equal([true, false], _irq.Levels);
        Assert.Equal(IirNone, In(Iir));
    }

    [Fact]
    public void ReceivedDataDoesNotInterruptWhenDisabled()
    {
        _uart.Inject("a"u8);

        Assert.Empty(_irq.Levels);
        Assert.Equal(IirNone, In(Iir));
    }

    [Fact]
    public void EnablingThrEmptyInterruptsRaisesOneThatReadingIirAcknowledges()
    {
        Out(Ier, 0x02);

        Assert.Equal([true], _irq.Levels);
        Assert.Equal(IirThrEmpty, In(Iir));
        Assert.Equal([true, false], _irq.Levels);
        Assert.Equal(IirNone, In(Iir));

        Out(Thr, (byte)'z'); // the holding register empties at once: a new interrupt

        Assert.Equal([true, false, true], _irq.Levels);
        Assert.Equal(IirThrEmpty, In(Iir));
        Assert.False(_irq.Level);
    }

    [Fact]
    public void ReceivedDataTakesPriorityOverThrEmpty()
    {
        Out(Ier, 0x03);
        _uart.Inject("q"u8);

        Assert.Equal(IirReceivedData, In(Iir));
        Assert.Equal(IirReceivedData, In(Iir)); // reading IIR does not acknowledge received data
        Assert.Equal((byte)'q', In(Rbr));
        Assert.Equal(IirThrEmpty, In(Iir));
        Assert.Equal(IirNone, In(Iir));
        Assert.False(_irq.Level);
    }

    [Fact]
    public void DisablingInterruptsLowersTheLine()
    {
        Out(Ier, 0x01);
        _uart.Inject("a"u8);

        Out(Ier, 0x00);

        Assert.Equal([true, false], _irq.Levels);
    }

    [Theory]
    [InlineData(0x01, 0x20)] // DTR -> DSR
    [InlineData(0x02, 0x10)] // RTS -> CTS
    [InlineData(0x04, 0x40)] // OUT1 -> RI
    [InlineData(0x08, 0x80)] // OUT2 -> DCD
    [InlineData(0x0A, 0x90)] // the pattern Linux's 8250 probe checks
    public void LoopbackWiresModemOutputsToTheMatchingInputs(byte outputs, byte expectedMsr)
    {
        Out(Mcr, (byte)(0x10 | outputs));

        Assert.Equal(expectedMsr, In(6));
    }

    [Fact]
    public void ModemStatusOutsideLoopbackReportsCarrierAndClearToSend() => Assert.Equal(0xB0, In(6));

    [Fact]
    public void ScratchRegisterKeepsItsValue()
    {
        Out(Scr, 0xA5);

        Assert.Equal(0xA5, In(Scr));
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(0, 0)]
    [InlineData(1, 4)]
    [InlineData(8, 1)]
    public void AccessesThatAreNotOneByteInsideTheBlockAreRefused(int offset, int size)
    {
        var data = new byte[size];

        Assert.False(_uart.Read(At(offset), data));
        Assert.False(_uart.Write(At(offset), data));

        Assert.Equal(0, _uart.Output.Length);
    }

    [Theory]
    [InlineData(Lsr)]
    [InlineData(6)]
    public void StatusRegistersAreReadOnly(int offset) => Assert.False(_uart.Write(At(offset), [0xFF]));

    [Fact]
    public void OnTheBusARefusedWriteIsLoggedAndTransmitWorks()
    {
        var log = new AccessLog();
        var bus = new Bus(AccessSpace.Pio, log);
        bus.Register(PortMap.Com1, 8, _uart);

        Assert.True(bus.Write(PortMap.Com1, 0, "k"u8));
        Assert.False(bus.Write(PortMap.Com1 + 5, 1, [0]));

        Assert.Equal("k", _uart.Output.Text);
        Assert.Equal(new GuestAccess(AccessSpace.Pio, PortMap.Com1 + 5, 1, 0, true, 1, AccessOutcome.RefusedByDevice), Assert.Single(log.Recent()));
    }
}
