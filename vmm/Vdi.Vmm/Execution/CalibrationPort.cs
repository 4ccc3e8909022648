using System.Buffers.Binary;
using System.Diagnostics;
using Vdi.Vmm.Devices;

namespace Vdi.Vmm.Execution;

/// <summary>
/// The host side of <see cref="CalibrationGuest"/>: answers which loop to run next and times each block from one
/// question to the next. Each loop starts small and grows until a block lasts at least <see cref="TargetBlock"/>
/// (never judging from a loop's first block, which pays for cold caches and first touches of memory); a loop whose
/// blocks stay short when the budget runs out is judged from its longest block. Runs on the guest's vCPU thread.
/// </summary>
internal sealed class CalibrationPort(TimeSpan budget) : IBusDevice
{
    /// <summary>A block long enough to time reliably, short enough to keep the whole calibration well under 100 ms.</summary>
    public static readonly TimeSpan TargetBlock = TimeSpan.FromMilliseconds(2);

    private const uint MaxIterations = 1u << 30;
    private static readonly CalibrationGuest.Workload[] s_loops = [CalibrationGuest.Workload.Alu, CalibrationGuest.Workload.Memory, CalibrationGuest.Workload.Exits];

    private readonly Dictionary<CalibrationGuest.Workload, (long Iterations, double Seconds)> _results = [];
    private long _started;
    private long _blockStart;
    private int _loop = -1;
    private int _blocksInLoop;
    private uint _iterations;
    private (long Iterations, double Seconds) _best;

    /// <summary>Iterations and seconds of the block each loop is judged from; complete once the guest has been told to stop.</summary>
    public IReadOnlyDictionary<CalibrationGuest.Workload, (long Iterations, double Seconds)> Results => _results;

    public bool Read(in BusAccess access, Span<byte> data)
    {
        if (data.Length != 4)
            return false;
        if (access.Offset == 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data, _iterations);
            return true;
        }
        if (access.Offset != 0)
            return false;
        var now = Stopwatch.GetTimestamp();
        BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)Next(now));
        _blockStart = Stopwatch.GetTimestamp();
        return true;
    }

    public bool Write(in BusAccess access, ReadOnlySpan<byte> data) => false;

    private CalibrationGuest.Workload Next(long now)
    {
        if (_loop < 0)
        {
            _started = now;
            return Begin(0);
        }

        var seconds = Stopwatch.GetElapsedTime(_blockStart, now).TotalSeconds;
        var loop = s_loops[_loop];
        _blocksInLoop++;
        if (_blocksInLoop > 1 && seconds > _best.Seconds)
            _best = (_iterations, seconds);
        var outOfTime = Stopwatch.GetElapsedTime(_started, now) > budget * (_loop + 1) / s_loops.Length;
        var longEnough = _blocksInLoop > 1 && seconds >= TargetBlock.TotalSeconds;
        if (longEnough || _iterations >= MaxIterations || (outOfTime && _blocksInLoop > 1))
        {
            _results[loop] = longEnough ? (_iterations, seconds) : _best;
            return _loop + 1 < s_loops.Length ? Begin(_loop + 1) : CalibrationGuest.Workload.Done;
        }

        // Aim the next block at 1.5 targets from this one's rate, growing at most 16x at a time.
        var scale = seconds <= 0 ? 16 : Math.Clamp(1.5 * TargetBlock.TotalSeconds / seconds, 1, 16);
        _iterations = (uint)Math.Min(MaxIterations, Math.Max(_iterations + 1, _iterations * scale));
        return loop;
    }

    private CalibrationGuest.Workload Begin(int index)
    {
        _loop = index;
        _blocksInLoop = 0;
        _best = (0, 0);
        _iterations = s_loops[index] == CalibrationGuest.Workload.Exits ? 64u : 256u;
        return s_loops[index];
    }
}
