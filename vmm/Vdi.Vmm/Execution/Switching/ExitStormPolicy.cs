using System.Diagnostics;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Vcpu;

namespace Vdi.Vmm.Execution.Switching;

/// <summary>
/// The one place that decides, per vCPU, when a KVM exit hands the vCPU to the software engine. Two rules
/// (<see cref="ExitStormThresholds"/> has the numbers and why):
/// <list type="number">
/// <item>Pattern: at the first exit from a RIP, decode ahead (<see cref="HotRegionScanner"/>); an enclosing short loop
/// with a privileged instruction, or a dense cluster of them, makes a region at once — before the storm builds.</item>
/// <item>Rate: ≥ <see cref="ExitStormThresholds.RateExits"/> exits from ≤ <see cref="ExitStormThresholds.RateAddresses"/>
/// RIPs within <see cref="ExitStormThresholds.RateWindow"/> make one even where the strict scan found none (relaxed scan).</item>
/// </list>
/// Verdicts are cached per RIP (regions with their code bytes, checked on reuse), so an exit costs a dictionary lookup.
/// The way back is the slice's business (<see cref="SoftwareSlice"/>): leaving the region, a quiet stretch, or a bound.
/// </summary>
internal sealed class ExitStormPolicy
{
    private const int MaxCachedVerdicts = 4096;

    private readonly GuestMemory _memory;
    private readonly ExitRateWindow _rate;
    private readonly Dictionary<ulong, HotRegion?> _verdicts = [];
    private readonly HashSet<ulong> _relaxedScanned = [];
    private readonly Dictionary<ulong, long> _backoffUntil = [];
    private readonly long _backoffTicks;
    private readonly byte[] _check;

    public ExitStormPolicy(GuestMemory memory, ExitStormThresholds thresholds)
    {
        thresholds.Validate();
        _memory = memory;
        Thresholds = thresholds;
        _rate = new ExitRateWindow(thresholds.RateAddresses, thresholds.RateExits, (long)(thresholds.RateWindow.TotalSeconds * Stopwatch.Frequency));
        _check = new byte[thresholds.ScanBytes * 4];
        _backoffTicks = (long)(thresholds.Backoff.TotalSeconds * Stopwatch.Frequency);
    }

    public ExitStormThresholds Thresholds { get; }

    /// <summary>
    /// An I/O or MMIO exit at <paramref name="rip"/> (the exiting instruction) was dispatched. Returns the region to run
    /// in software, with whether the rate rule found it, or null to stay in KVM.
    /// </summary>
    public (HotRegion Region, bool ByRate)? OnExit(ulong rip, in VcpuRegisters registers, long now)
    {
        var tripped = _rate.Record(rip, now);
        if (_backoffUntil.Count > 0 && _backoffUntil.TryGetValue(rip, out var until))
        {
            if (now < until)
                return null;
            _backoffUntil.Remove(rip);
        }
        if (_verdicts.TryGetValue(rip, out var cached))
        {
            if (cached is not null && StillValid(cached))
                return (cached, false);
            if (cached is not null)
                _verdicts.Remove(rip); // the code changed: decode again below
            else if (!tripped)
                return null;
        }

        if (!_verdicts.ContainsKey(rip))
        {
            var found = HotRegionScanner.Scan(_memory, rip, registers, Thresholds, relaxed: false);
            Remember(rip, found);
            if (found is not null)
                return (found, false);
        }
        if (!tripped)
            return null;

        // The rate proves a storm the strict scan missed: scan again, relaxed — once per RIP, scans are not free.
        _rate.Reset(now);
        if (!_relaxedScanned.Add(rip))
            return null;
        var region = HotRegionScanner.Scan(_memory, rip, registers, Thresholds, relaxed: true);
        if (region is null)
            return null;
        Remember(rip, region);
        return (region, true);
    }

    /// <summary>The switch at <paramref name="rip"/> was refused: leave that RIP to KVM for <see cref="ExitStormThresholds.Backoff"/>.</summary>
    public void Refused(ulong rip, long now) => BackOff(rip, now);

    /// <summary>A slice entered at the exit <paramref name="rip"/> ended; one that saved fewer than two exits backs off.</summary>
    public void SliceEnded(ulong rip, long deviceAccesses, long now)
    {
        if (deviceAccesses < 2)
            BackOff(rip, now);
    }

    private void BackOff(ulong rip, long now)
    {
        if (_backoffUntil.Count >= MaxCachedVerdicts)
            _backoffUntil.Clear();
        _backoffUntil[rip] = now + _backoffTicks;
    }

    private void Remember(ulong rip, HotRegion? verdict)
    {
        if (_verdicts.Count >= MaxCachedVerdicts)
        {
            _verdicts.Clear();
            _relaxedScanned.Clear();
        }
        _verdicts[rip] = verdict;
    }

    private bool StillValid(HotRegion region)
    {
        var span = _check.AsSpan(0, region.Length);
        return _memory.TryRead(region.Start, span) && region.CodeMatches(span);
    }
}
