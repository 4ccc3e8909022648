namespace Vdi.Vmm.Devices;

/// <summary>
/// A 16550A UART (8 registers). Transmit is instant (the holding register is always empty); output
/// goes to <see cref="Output"/>. Receive has a 16-byte FIFO fed by <see cref="Inject"/>. Interrupts
/// (THR empty, received data) drive the line given at construction, as a level.
/// </summary>
public sealed class Serial16550 : IBusDevice, State.IDeviceState
{
    private const byte IerReceivedData = 0x01, IerThrEmpty = 0x02;
    private const byte IirNone = 0x01, IirThrEmpty = 0x02, IirReceivedData = 0x04, IirFifoEnabled = 0xC0;
    private const byte LcrDlab = 0x80;
    private const byte McrLoopback = 0x10;
    private const byte LsrDataReady = 0x01, LsrThrEmpty = 0x20, LsrTransmitterEmpty = 0x40;
    private const int FifoSize = 16;

    private readonly Lock _gate = new(); // guards every register; vCPU threads and Inject race on the FIFO
    private readonly IInterruptLine? _irq;
    private readonly Queue<byte> _rx = new();
    private byte _ier, _lcr = 0x03, _mcr = 0x08, _scr, _dll = 0x0C, _dlm;
    private bool _thrInterruptPending;
    private bool _line;

    public Serial16550(IInterruptLine? irq = null) => _irq = irq;

    public SerialOutput Output { get; } = new();

    /// <summary>Queues bytes for the guest to read; bytes beyond the FIFO's room are dropped, as on real hardware.</summary>
    public int Inject(ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            var taken = 0;
            foreach (var b in data)
            {
                if (_rx.Count == FifoSize)
                    break;
                _rx.Enqueue(b);
                taken++;
            }
            UpdateInterruptLocked();
            return taken;
        }
    }

    public bool Read(in BusAccess access, Span<byte> data)
    {
        if (data.Length != 1 || access.Offset > 7)
            return false;
        lock (_gate)
        {
            data[0] = access.Offset switch
            {
                0 when (_lcr & LcrDlab) != 0 => _dll,
                0 => _rx.Count > 0 ? _rx.Dequeue() : (byte)0,
                1 when (_lcr & LcrDlab) != 0 => _dlm,
                1 => _ier,
                2 => ReadIirLocked(),
                3 => _lcr,
                4 => _mcr,
                5 => (byte)(LsrThrEmpty | LsrTransmitterEmpty | (_rx.Count > 0 ? LsrDataReady : 0)),
                6 => (_mcr & McrLoopback) != 0 ? LoopbackModemStatus(_mcr) : (byte)0xB0, // CTS, DSR, DCD
                _ => _scr,
            };
            UpdateInterruptLocked();
        }
        return true;
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data)
    {
        if (data.Length != 1 || access.Offset > 7)
            return false;
        var value = data[0];
        var transmit = false;
        lock (_gate)
        {
            switch (access.Offset)
            {
                case 0 when (_lcr & LcrDlab) != 0: _dll = value; break;
                case 0:
                    if ((_mcr & McrLoopback) != 0)
                    {
                        if (_rx.Count < FifoSize)
                            _rx.Enqueue(value);
                    }
                    else
                    {
                        transmit = true;
                    }
                    _thrInterruptPending = true;
                    break;
                case 1 when (_lcr & LcrDlab) != 0: _dlm = value; break;
                case 1:
                    _ier = (byte)(value & 0x0F);
                    _thrInterruptPending = (_ier & IerThrEmpty) != 0; // enabling THRE interrupts raises one at once
                    break;
                case 2: break; // FCR: the FIFO is always on and never needs a reset
                case 3: _lcr = value; break;
                case 4: _mcr = (byte)(value & 0x1F); break;
                case 7: _scr = value; break;
                default: return false; // LSR and MSR are read-only
            }
            UpdateInterruptLocked();
        }
        if (transmit)
        {
            Output.Append(value);
            ByteOutput?.Invoke(value);
        }
        return true;
    }

    /// <summary>Fault tolerance: told each byte the guest transmits, on the writing vCPU's thread.</summary>
    internal Action<byte>? ByteOutput { get; set; }

    /// <summary>The section's name: the port's (a machine has one UART today).</summary>
    public string SectionName { get; init; } = "uart.com1";

    public ushort SectionVersion => 1;

    /// <summary>The registers and the receive FIFO (what the host already read from the transmitter is not state).</summary>
    public void SaveState(State.SectionWriter section)
    {
        lock (_gate)
        {
            section.U64("ier", _ier).U64("lcr", _lcr).U64("mcr", _mcr).U64("scr", _scr).U64("dll", _dll).U64("dlm", _dlm)
                .Bool("thr_pending", _thrInterruptPending).Bytes("rx", _rx.ToArray());
        }
    }

    public void RestoreState(State.SavedSection section)
    {
        var (ier, lcr, mcr) = ((byte)section.U64("ier", 0, 0x0F), (byte)section.U64("lcr", 0, 0xFF), (byte)section.U64("mcr", 0, 0x1F));
        var (scr, dll, dlm) = ((byte)section.U64("scr", 0, 0xFF), (byte)section.U64("dll", 0, 0xFF), (byte)section.U64("dlm", 0, 0xFF));
        var pending = section.Bool("thr_pending");
        var rx = section.Bytes("rx");
        if (rx.Length > FifoSize)
            throw new State.StateFormatException($"section '{section.Name}': field 'rx' holds {rx.Length} bytes, more than the FIFO's {FifoSize}");
        section.EnsureAllRead();
        lock (_gate)
        {
            (_ier, _lcr, _mcr, _scr, _dll, _dlm, _thrInterruptPending) = (ier, lcr, mcr, scr, dll, dlm, pending);
            _rx.Clear();
            foreach (var b in rx)
                _rx.Enqueue(b);
            UpdateInterruptLocked();
        }
    }

    /// <summary>In loopback the modem outputs feed the inputs: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.</summary>
    private static byte LoopbackModemStatus(byte mcr) =>
        (byte)(((mcr & 0x02) << 3) | ((mcr & 0x01) << 5) | ((mcr & 0x04) << 4) | ((mcr & 0x08) << 4));

    private byte ReadIirLocked()
    {
        if ((_ier & IerReceivedData) != 0 && _rx.Count > 0)
            return IirFifoEnabled | IirReceivedData;
        if ((_ier & IerThrEmpty) != 0 && _thrInterruptPending)
        {
            _thrInterruptPending = false; // reading IIR acknowledges the THR-empty interrupt
            return IirFifoEnabled | IirThrEmpty;
        }
        return IirFifoEnabled | IirNone;
    }

    private void UpdateInterruptLocked()
    {
        var level = ((_ier & IerReceivedData) != 0 && _rx.Count > 0) || ((_ier & IerThrEmpty) != 0 && _thrInterruptPending);
        if (level != _line)
        {
            _line = level;
            _irq?.SetLevel(level);
        }
    }
}
