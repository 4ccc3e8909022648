using System.Diagnostics;
using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// A vCPU's local APIC as the software engine models it: registers read back what was written, EOI retires the
/// highest in-service vector, and the timer counts at KVM's APIC bus rate of 1 GHz (one count per nanosecond at
/// divide-by-1) in one-shot or periodic mode. The timer is polled by the vCPU's thread (<see cref="PollTimer"/>),
/// which also sleeps until <see cref="TimerDeadline"/> when the vCPU halts.
/// </summary>
internal sealed class SoftLocalApic
{
    private const uint CurrentCountRegister = 0x390;
    private const uint TimerModeMask = 0x6_0000;
    private static readonly double s_ticksPerNanosecond = Stopwatch.Frequency / 1e9;

    private readonly SoftCpu _cpu;
    private readonly uint[] _registers = new uint[256];
    private readonly bool[] _written = new bool[256];
    private long _deadline = long.MaxValue; // Stopwatch timestamp of the next expiry; MaxValue when stopped
    private long _periodTicks;

    public SoftLocalApic(SoftCpu cpu) => _cpu = cpu;

    /// <summary>Registers the guest wrote, by offset.</summary>
    public IReadOnlyDictionary<uint, uint> Written =>
        Enumerable.Range(0, 256).Where(r => _written[r]).ToDictionary(r => (uint)r << 4, r => _registers[r]);

    public int EndOfInterrupts { get; private set; }

    /// <summary>Stopwatch timestamp of the next timer expiry, or <see cref="long.MaxValue"/> when the timer is stopped.</summary>
    public long TimerDeadline => _deadline;

    public uint Read(uint offset)
    {
        var index = (offset >> 4) & 0xFF;
        if (offset != CurrentCountRegister)
            return _registers[index];
        return _cpu.Journal is { } journal
            ? (uint)journal.Value(FaultTolerance.JournalKind.ApicCount, () => CurrentCount(Stopwatch.GetTimestamp()))
            : CurrentCount(Stopwatch.GetTimestamp());
    }

    /// <summary>Writes a register; returns the vector an EOI retired, for the I/O APIC.</summary>
    public byte? Write(uint offset, uint value)
    {
        var index = (offset >> 4) & 0xFF;
        _registers[index] = value;
        _written[index] = true;
        switch (offset)
        {
            case ApicRegisters.EndOfInterruptRegister:
                EndOfInterrupts++;
                return _cpu.EndOfInterrupt();
            case ApicRegisters.TimerInitialCountRegister:
                Arm(Stopwatch.GetTimestamp());
                break;
            case ApicRegisters.LvtTimerRegister when (value & TimerModeMask) == 0:
                _periodTicks = 0; // one-shot from now on
                break;
        }
        return null;
    }

    /// <summary>The register page as <c>kvm_lapic_state</c> lays it out: each register's 32 bits at its offset.</summary>
    public byte[] ExportPage()
    {
        var page = new byte[State.VcpuSnapshot.ApicPageSize];
        for (var r = 0; r < 64; r++)
            BitConverter.TryWriteBytes(page.AsSpan(r << 4, 4), _registers[r]);
        return page;
    }

    /// <summary>Nanoseconds until the timer expires at <paramref name="now"/> (a Stopwatch timestamp); -1 when stopped.</summary>
    public long NanosecondsLeft(long now) =>
        _deadline == long.MaxValue ? -1 : (long)(Math.Max(0, _deadline - now) / s_ticksPerNanosecond);

    /// <summary>Takes a register page and the timer's time left (a restore); a periodic timer keeps its period.</summary>
    public void ImportPage(ReadOnlySpan<byte> page, long nanosecondsLeft, long now)
    {
        for (var r = 0; r < 64; r++)
        {
            _registers[r] = BitConverter.ToUInt32(page.Slice(r << 4, 4));
            _written[r] = _registers[r] != 0;
        }
        for (var r = 64; r < 256; r++)
            (_registers[r], _written[r]) = (0, false);
        _registers[CurrentCountRegister >> 4] = 0; // read live from the deadline
        if (nanosecondsLeft < 0)
        {
            (_deadline, _periodTicks) = (long.MaxValue, 0);
            return;
        }
        Arm(now); // the period, from the initial count and the divider
        _deadline = now + (long)(nanosecondsLeft * s_ticksPerNanosecond);
    }

    /// <summary>Posts the timer's vector when it has expired at <paramref name="now"/>; re-arms a periodic timer. True when it expired.</summary>
    public bool PollTimer(long now)
    {
        if (now < _deadline)
            return false;
        Expire(now);
        return true;
    }

    /// <summary>The timer expires now, whatever the time (a replay, where the journal says when): as <see cref="PollTimer"/>.</summary>
    public void Expire(long now)
    {
        var lvt = _registers[ApicRegisters.LvtTimerRegister >> 4];
        if ((lvt & ApicRegisters.LvtMasked) == 0)
            _cpu.PostInterrupt((byte)lvt);
        if (_periodTicks > 0)
        {
            // A late poll delivers one tick, not a burst: the next deadline is at least a period away.
            _deadline += _periodTicks;
            if (_deadline <= now)
                _deadline = now + _periodTicks;
        }
        else
        {
            _deadline = long.MaxValue;
        }
    }

    private void Arm(long now)
    {
        var count = _registers[ApicRegisters.TimerInitialCountRegister >> 4];
        if (count == 0)
        {
            _deadline = long.MaxValue;
            return;
        }
        var ticks = Math.Max(1, (long)(count * (double)Divisor() * s_ticksPerNanosecond));
        _deadline = now + ticks;
        var periodic = (_registers[ApicRegisters.LvtTimerRegister >> 4] & TimerModeMask) == ApicRegisters.TimerPeriodic;
        _periodTicks = periodic ? ticks : 0;
    }

    private uint CurrentCount(long now)
    {
        if (_deadline == long.MaxValue)
            return 0;
        var remaining = Math.Max(0, _deadline - now);
        return (uint)Math.Min(uint.MaxValue, remaining / s_ticksPerNanosecond / Divisor());
    }

    /// <summary>The divide configuration register's divisor: bits 0, 1 and 3 encode 2, 4, …, 128, or 1.</summary>
    private uint Divisor()
    {
        var code = _registers[ApicRegisters.TimerDivideRegister >> 4];
        var shift = (code & 3) | ((code >> 1) & 4);
        return shift == 7 ? 1u : 2u << (int)shift;
    }
}
