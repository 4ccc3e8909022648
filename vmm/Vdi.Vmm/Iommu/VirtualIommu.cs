using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Iommu;

/// <summary>
/// The machine's virtual IOMMU (<c>Machine.Iommu</c>): one <see cref="IommuDomain"/> per device, through which all of
/// that device's DMA goes, and the dirty tracking live migration harvests. The VMM builds the domains — identity maps
/// over guest RAM — and the guest sees nothing of them (no virtio-iommu device is offered).
/// </summary>
/// <remarks>
/// Identity domains map [0, <c>ramBytes</c>) once, when the machine's devices are made, and do not follow later slot
/// changes, by design: a machine's RAM is one slot at 0 of <see cref="Machine.MachineConfig.MemoryBytes"/>, added before
/// its devices; the slots made later are write tracing's splits and merges (the same guest-physical RAM — domains
/// translate by address, not by slot), the privileged-mode region and its window onto RAM (not device-visible: a
/// device must not reach them) and test-only slots. A slot removed under a live mapping fails the access in
/// <see cref="GuestMemory"/> as an access outside RAM always did.
/// </remarks>
public sealed class VirtualIommu
{
    private readonly Lock _gate = new(); // domain creation and the tracking switch
    private readonly GuestMemory _memory;
    private volatile IommuDomain[] _domains = []; // replaced, never mutated
    private bool _dirtyTracking; // under _gate

    /// <param name="memory">Guest memory the domains translate into.</param>
    /// <param name="ramBytes">Guest RAM from address 0 that identity domains map.</param>
    public VirtualIommu(GuestMemory memory, ulong ramBytes)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if ((ramBytes & (IoPageTable.PageSize - 1)) != 0)
            throw new ArgumentException($"RAM of 0x{ramBytes:X} bytes is not a whole number of 4 KiB pages", nameof(ramBytes));
        _memory = memory;
        RamBytes = ramBytes;
    }

    /// <summary>Guest RAM identity domains map, from address 0.</summary>
    public ulong RamBytes { get; }

    public IReadOnlyList<IommuDomain> Domains => _domains;

    /// <summary>True between <see cref="StartDirtyTracking"/> and <see cref="StopDirtyTracking"/>.</summary>
    public bool DirtyTracking
    {
        get
        {
            lock (_gate)
                return _dirtyTracking;
        }
    }

    /// <summary>DMAs refused by every domain's translation.</summary>
    public long Faults => _domains.Sum(d => d.Faults);

    /// <summary>Test-only: harvests report nothing and clear nothing, to prove a migration loses DMA writes without them.</summary>
    internal bool HarvestSwitchedOff { get; set; }

    /// <summary>A domain for device <paramref name="name"/> mapping all guest RAM at the same addresses, writable.</summary>
    public IommuDomain CreateIdentityDomain(string name)
    {
        var domain = new IommuDomain(name, _memory);
        if (RamBytes > 0)
            domain.Table.Map(0, 0, RamBytes, writable: true);
        Add(domain);
        return domain;
    }

    /// <summary>A domain for device <paramref name="name"/> with nothing mapped: every DMA faults until its table maps some.</summary>
    public IommuDomain CreateDomain(string name)
    {
        var domain = new IommuDomain(name, _memory);
        Add(domain);
        return domain;
    }

    /// <summary>The domain of device <paramref name="name"/>, or null.</summary>
    public IommuDomain? Domain(string name) => Array.Find(_domains, d => d.Name == name);

    /// <summary>Every domain, and those made later, sets dirty bits on DMA writes from now on.</summary>
    public void StartDirtyTracking() => SetTracking(true);

    /// <summary>No domain sets dirty bits any more; bits already set stay for the next harvest.</summary>
    public void StopDirtyTracking() => SetTracking(false);

    /// <summary>
    /// ORs every domain's dirty pages into <paramref name="bitmap"/>, indexed by guest-physical page number (bit n of
    /// word n / 64 = page n; size it for [0, memory top)), clearing them: a DMA write racing the harvest lands in this
    /// harvest or the next, never in neither. A page beyond the bitmap stays dirty. Returns the pages it added (bits
    /// that were clear).
    /// </summary>
    public int HarvestDirty(Span<ulong> bitmap)
    {
        if (HarvestSwitchedOff)
            return 0;
        var added = 0;
        foreach (var domain in _domains)
            added += domain.HarvestDirty(bitmap);
        return added;
    }

    private void Add(IommuDomain domain)
    {
        lock (_gate)
        {
            if (_domains.Any(d => d.Name == domain.Name))
                throw new InvalidOperationException($"a domain named '{domain.Name}' exists already");
            domain.DirtyTracking = _dirtyTracking;
            _domains = [.. _domains, domain];
        }
    }

    private void SetTracking(bool on)
    {
        lock (_gate)
        {
            _dirtyTracking = on;
            foreach (var domain in _domains)
                domain.DirtyTracking = on;
        }
    }
}
