using Vdi.Vmm.State;

namespace Vdi.Vmm.Integrity;

/// <summary>
/// The monitor's section (<c>integrity</c>): the level, the registered driver, the vCPUs in integrity mode and the
/// protected ranges in force — so a desktop restored elsewhere is protected from its first instruction, by exactly
/// the ranges it had (a tree being changed in integrity mode is re-read when the driver leaves it, as before).
/// </summary>
public sealed partial class IntegrityMonitor : IDeviceState
{
    private const int RangeFields = 6;

    public string SectionName => "integrity";

    public ushort SectionVersion => 1;

    public void SaveState(SectionWriter section)
    {
        lock (_gate)
        {
            section.U64("level", (ulong)Level).Bool("registered", _driver is not null);
            if (_driver is { } d)
                section.U64s("driver", [d.CodeStart, d.CodeEnd, d.EntryPoint, d.Cr3, d.TreeRoot]);
            section.U64s("in_mode", [.. _inMode.Order().Select(v => (ulong)v)]);
            section.U64s("ranges", [.. _map.Ranges.SelectMany(r => new[] { r.NodeVirtual, r.NodePhysical, r.Start, r.Pages, (ulong)r.Action, r.Tag })]);
        }
    }

    /// <summary>
    /// Takes a saved monitor after guest memory is in place and before the machine starts: the driver's entry point
    /// and every range are checked against memory as a registration checks them, then its pages are traced again.
    /// </summary>
    public void RestoreState(SavedSection section)
    {
        var level = (IntegrityLevel)section.U64("level", 0, (ulong)IntegrityLevel.Enforce);
        IntegrityDriver? driver = null;
        ProtectionMap map = ProtectionMap.Empty;
        HashSet<int> inMode = [];
        if (section.Bool("registered"))
        {
            var d = section.U64s("driver");
            if (d.Length != 5)
                throw new StateFormatException($"section '{section.Name}': the driver has {d.Length} fields, not 5");
            driver = new IntegrityDriver(d[0], d[1], d[2], d[3], d[4]);
            if (CheckEntryPoint(driver) is { } problem)
                throw new StateFormatException($"section '{section.Name}': the driver's entry point: {problem}");
            var flat = section.U64s("ranges");
            if (flat.Length % RangeFields != 0 || flat.Length / RangeFields > ProtectionTree.MaxNodes)
                throw new StateFormatException($"section '{section.Name}': {flat.Length} range fields");
            var ranges = new List<ProtectedRange>();
            for (var i = 0; i < flat.Length; i += RangeFields)
            {
                if (flat[i + 4] is < (ulong)ProtectionAction.Alert or > (ulong)ProtectionAction.Stop || flat[i + 5] > uint.MaxValue || flat[i + 3] is 0 or > 65_536 || (flat[i + 2] & 0xFFF) != 0)
                    throw new StateFormatException($"section '{section.Name}': range {i / RangeFields} is not one a driver could register");
                ranges.Add(new ProtectedRange(flat[i], flat[i + 1], flat[i + 2], flat[i + 3], (ProtectionAction)flat[i + 4], (uint)flat[i + 5]));
            }
            var (built, error) = ProtectionMap.Build(_memory, driver.Cr3, ranges);
            map = built ?? throw new StateFormatException($"section '{section.Name}': the protected ranges do not resolve: {error}");
            foreach (var vcpu in section.U64s("in_mode"))
            {
                if (vcpu > 255)
                    throw new StateFormatException($"section '{section.Name}': vCPU {vcpu} in integrity mode");
                inMode.Add((int)vcpu);
            }
        }
        else if (section.U64s("in_mode").Length != 0 || section.U64s("ranges").Length != 0)
        {
            throw new StateFormatException($"section '{section.Name}': ranges or integrity mode without a registered driver");
        }
        section.EnsureAllRead();
        ProtectionMap old;
        lock (_gate)
        {
            old = _map;
            Level = level;
            _driver = driver;
            _map = map;
            _inMode.Clear();
            _inMode.UnionWith(inMode);
        }
        _tracer.Update([.. map.TracedPages.Except(old.TracedPages)], [.. old.TracedPages.Except(map.TracedPages)], OnWrite);
        Notify(ProtectionChanged);
    }
}
