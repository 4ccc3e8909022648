using Vdi.Vmm.State;

namespace Vdi.Vmm.Integrity;

/// <summary>
/// Privileged mode's section (<c>privileged</c>): the driver's privileged code, which lives outside guest memory and
/// so is not among the pages a snapshot or migration copies. A machine is saved only with no vCPU inside the mode
/// (its window and the others' parking are not state to carry: the mode lasts a few microseconds).
/// </summary>
public sealed partial class PrivilegedMode : IDeviceState
{
    public string SectionName => "privileged";

    public ushort SectionVersion => 1;

    public void SaveState(SectionWriter section)
    {
        lock (_gate)
        {
            if (_inside >= 0)
                throw new InvalidOperationException($"vCPU {_inside} is in privileged mode: the machine is saved between two privileged sections");
            section.Bool("loaded", _loaded);
            section.Bytes("code", _loaded ? Region : []);
        }
    }

    public void RestoreState(SavedSection section)
    {
        var loaded = section.Bool("loaded");
        var code = section.Bytes("code");
        if (code.Length != (loaded ? (int)RegionSize : 0))
            throw new StateFormatException($"section '{section.Name}': {code.Length} bytes of privileged code for a region of {RegionSize}");
        section.EnsureAllRead();
        lock (_gate)
        {
            if (_inside >= 0)
                throw new InvalidOperationException("privileged mode is entered: restore before the machine starts");
            code.CopyTo(Region);
            _loaded = loaded;
        }
    }

    private unsafe Span<byte> Region
    {
        get
        {
            // SAFETY: the region is RegionSize bytes of our own mapping, which lives as long as this object.
            return new Span<byte>((void*)_region.Address, (int)RegionSize);
        }
    }
}
