using System.Diagnostics;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// One vCPU's switch counters. Written only by the vCPU's thread; any thread may take a <see cref="Snapshot"/>
/// (values may lag by a switch).
/// </summary>
internal sealed class EngineSwitchCounters(int vcpuId)
{
    private readonly long[] _refused = new long[Enum.GetValues<SwitchRefusal>().Length];
    private readonly long[] _ended = new long[Enum.GetValues<SliceEnd>().Length];
    private long _toSoftware;
    private long _toKvm;
    private long _patternRegions;
    private long _rateRegions;
    private long _instructions;
    private long _deviceAccesses;
    private long _softwareTicks;
    private long _longestTicks;

    public void Refused(SwitchRefusal reason) => Interlocked.Increment(ref _refused[(int)reason]);

    public void RegionFound(bool byRate) => Interlocked.Increment(ref byRate ? ref _rateRegions : ref _patternRegions);

    public void ToSoftware() => Interlocked.Increment(ref _toSoftware);

    public void ToKvm(SliceEnd end, long instructions, long deviceAccesses, long ticks)
    {
        Interlocked.Increment(ref _ended[(int)end]);
        Interlocked.Add(ref _instructions, instructions);
        Interlocked.Add(ref _deviceAccesses, deviceAccesses);
        Interlocked.Add(ref _softwareTicks, ticks);
        if (ticks > Volatile.Read(ref _longestTicks))
            Volatile.Write(ref _longestTicks, ticks);
        Interlocked.Increment(ref _toKvm);
    }

    public EngineSwitchStats Snapshot() => new(
        vcpuId,
        Volatile.Read(ref _toSoftware),
        Volatile.Read(ref _toKvm),
        Enum.GetValues<SwitchRefusal>().ToDictionary(r => r, r => Volatile.Read(ref _refused[(int)r])),
        Enum.GetValues<SliceEnd>().ToDictionary(e => e, e => Volatile.Read(ref _ended[(int)e])),
        Volatile.Read(ref _patternRegions),
        Volatile.Read(ref _rateRegions),
        Volatile.Read(ref _instructions),
        Volatile.Read(ref _deviceAccesses),
        Stopwatch.GetElapsedTime(0, Volatile.Read(ref _softwareTicks)),
        Stopwatch.GetElapsedTime(0, Volatile.Read(ref _longestTicks)));
}
