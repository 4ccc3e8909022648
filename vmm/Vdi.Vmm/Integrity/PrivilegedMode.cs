using Vdi.Vmm.Execution.Software;
using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Introspection;
using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Integrity;

/// <summary>
/// Privileged mode with a global memory view (<c>docs/vmm.md</c>, "Privileged mode"): the integrity driver's privileged
/// code lives in a region of host memory that is not in the guest's physical address space. A vCPU that asks from the
/// driver's entry point (<see cref="IntegrityHypercalls.PrivilegedEnter"/>) waits until no vCPU is inside, parks every
/// other vCPU — parked, they run nothing and can only ask to come in themselves once released — and gets the region
/// mapped at <see cref="RegionBase"/> and all of RAM at <see cref="WindowBase"/> (memory slots on KVM, the bus's slots on
/// the software engine); <see cref="IntegrityHypercalls.PrivilegedLeave"/> unmaps both and releases the others.
/// Outside the mode those addresses are unbacked: reads give all ones, writes are dropped.
/// </summary>
public sealed partial class PrivilegedMode : IDisposable
{
    /// <summary>The privileged region's size: the most code the driver can load.</summary>
    public const ulong RegionSize = 64 << 10;

    /// <summary>Where the window onto RAM starts, above <see cref="RegionBase"/>.</summary>
    public const ulong WindowOffset = 1UL << 30;

    private readonly Lock _gate = new(); // _inside, _slots, _loaded
    private readonly GuestMemory _memory;
    private readonly ConcurrencyGuard _guard;
    private readonly IntegrityMonitor _integrity;
    private readonly MemoryMapping _region;
    private readonly List<MemorySlot> _slots = [];
    private int _inside = -1;
    private bool _loaded;
    private long _entries;

    internal PrivilegedMode(GuestMemory memory, ConcurrencyGuard guard, IntegrityMonitor integrity, HypercallDispatcher hypercalls, ulong ramTop)
    {
        _memory = memory;
        _guard = guard;
        _integrity = integrity;
        RegionBase = Math.Max(4UL << 30, (ramTop + WindowOffset - 1) & ~(WindowOffset - 1));
        _region = MemoryMapping.Create(RegionSize);
        _region.AddReference(); // ours: the region outlives every mapping of it
        hypercalls.Register(IntegrityHypercalls.PrivilegedLoad, Load);
        hypercalls.Register(IntegrityHypercalls.PrivilegedEnter, Enter);
        hypercalls.Register(IntegrityHypercalls.PrivilegedLeave, Leave);
    }

    /// <summary>Guest-physical address of the region while a vCPU is in privileged mode.</summary>
    public ulong RegionBase { get; }

    /// <summary>Guest-physical address at which all of RAM is visible while a vCPU is in privileged mode.</summary>
    public ulong WindowBase => RegionBase + WindowOffset;

    /// <summary>The vCPU in privileged mode, or -1.</summary>
    public int Inside => Volatile.Read(ref _inside);

    /// <summary>Times a vCPU entered privileged mode.</summary>
    public long Entries => Interlocked.Read(ref _entries);

    public void Dispose() => _region.Release();

    private ulong Load(in HypercallContext call)
    {
        if (_integrity.Level == IntegrityLevel.Off)
            return IntegrityResults.Disabled;
        if (!_integrity.InIntegrityMode(call.VcpuId) || _integrity.Driver is not { } driver)
            return _integrity.Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Refused, "privileged code loaded outside integrity mode");
        var length = call.Registers.Rcx;
        if (length is 0 or > RegionSize)
            return _integrity.Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, $"privileged code of {length} bytes (1 to {RegionSize})");
        var code = new byte[length];
        var read = GuestReader.Read(_memory, driver.Cr3, call.Registers.Rbx, code);
        if (!read.Succeeded)
            return _integrity.Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, $"privileged code does not read: {read.Fault}");
        lock (_gate)
        {
            if (_inside >= 0)
                return IntegrityResults.WrongState;
            unsafe
            {
                // SAFETY: the region is RegionSize bytes of our own mapping and length <= RegionSize.
                var region = new Span<byte>((void*)_region.Address, (int)RegionSize);
                region.Clear();
                code.CopyTo(region);
            }
            _loaded = true;
        }
        return RegionBase;
    }

    private ulong Enter(in HypercallContext call)
    {
        if (_integrity.Level == IntegrityLevel.Off)
            return IntegrityResults.Disabled;
        if (_integrity.CheckEntryPoint(call, "privileged mode") is { } refused)
            return refused;
        lock (_gate)
        {
            if (!_loaded || _inside == call.VcpuId)
                return _integrity.Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.WrongState, _loaded ? "privileged mode entered twice" : "privileged mode before any privileged code was loaded");
        }
        _guard.ParkOthers(call.VcpuId); // waits its turn while another vCPU is inside: that one holds the others parked
        lock (_gate)
        {
            try
            {
                _slots.Add(_memory.AddMapping(RegionBase, _region));
                foreach (var (first, size) in _memory.ContiguousRuns(RegionBase))
                    _slots.Add(_memory.AddAlias(WindowBase + first.GuestAddress, first, size));
            }
            catch
            {
                UnmapLocked();
                _guard.ReleaseOthers();
                throw;
            }
            _inside = call.VcpuId;
            _entries++;
        }
        return IntegrityResults.Ok;
    }

    private ulong Leave(in HypercallContext call)
    {
        lock (_gate)
        {
            if (_inside != call.VcpuId)
                return _integrity.Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Refused, "privileged mode left by a vCPU that is not in it");
            UnmapLocked();
            _inside = -1;
        }
        _guard.ReleaseOthers();
        return IntegrityResults.Ok;
    }

    private void UnmapLocked()
    {
        foreach (var slot in _slots)
            _memory.Remove(slot);
        _slots.Clear();
    }
}
