using Vdi.Vmm.Hypercalls;
using Vdi.Vmm.Introspection;
using Vdi.Vmm.Memory;
using Vdi.Vmm.Tracing;

namespace Vdi.Vmm.Integrity;

/// <summary>The registered integrity driver: its code, its one entry point, its address space and its tree's root.</summary>
public sealed record IntegrityDriver(ulong CodeStart, ulong CodeEnd, ulong EntryPoint, ulong Cr3, ulong TreeRoot);

/// <summary>
/// A machine's guest integrity (<c>docs/vmm.md</c>, "Guest integrity"): the driver registers once
/// (<see cref="IntegrityHypercalls.Register"/>), the VMM reads its protected-page tree and traces every protected page,
/// every page-table page on the path to one and the tree's own pages; a traced write is classified
/// (<see cref="ProtectionMap.Classify"/>) and its node's action applied at <see cref="Level"/>. Integrity mode — the
/// only state in which the driver may change the tree — is entered only by a hypercall from the registered entry point
/// with the registered CR3, per vCPU; leaving it makes the VMM read the tree again. Anything else is refused and
/// alerted. Alerts are kept (the newest <see cref="AlertCapacity"/>) and raised as <see cref="AlertRaised"/>.
/// </summary>
public sealed partial class IntegrityMonitor
{
    public const int AlertCapacity = 1024;
    private const byte OutDxEax = 0xEF;

    private readonly Lock _gate = new(); // _driver, _map, _inMode, _alerts, _sequence
    private readonly GuestMemory _memory;
    private readonly WriteTracer _tracer;
    private readonly TimeProvider _time;
    private readonly HashSet<int> _inMode = [];
    private readonly Queue<IntegrityAlert> _alerts = new();
    private IntegrityDriver? _driver;
    private ProtectionMap _map = ProtectionMap.Empty;
    private long _sequence;

    public IntegrityMonitor(GuestMemory memory, WriteTracer tracer, HypercallDispatcher hypercalls, IntegrityLevel level, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(hypercalls);
        _memory = memory;
        _tracer = tracer;
        _time = time ?? TimeProvider.System;
        Level = level;
        hypercalls.Register(IntegrityHypercalls.Register, RegisterDriver);
        hypercalls.Register(IntegrityHypercalls.Enter, Enter);
        hypercalls.Register(IntegrityHypercalls.Leave, Leave);
    }

    /// <summary>Set before the guest registers; <see cref="IntegrityLevel.Audit"/> and <see cref="IntegrityLevel.Enforce"/> may be swapped at any time.</summary>
    public IntegrityLevel Level { get; set; }

    /// <summary>Raised on the thread that caught it (a vCPU's or a device's): must be quick and must not throw.</summary>
    public event Action<IntegrityAlert>? AlertRaised;

    /// <summary>Raised (on the vCPU's thread) when a driver registered or the protected set changed: see <see cref="Protected"/>.</summary>
    public event Action? ProtectionChanged;

    public IntegrityDriver? Driver
    {
        get
        {
            lock (_gate)
                return _driver;
        }
    }

    /// <summary>What the tree protects now, in address order.</summary>
    public IReadOnlyList<ProtectedRange> Protected
    {
        get
        {
            lock (_gate)
                return _map.Ranges;
        }
    }

    /// <summary>The newest alerts, oldest first.</summary>
    public IReadOnlyList<IntegrityAlert> Alerts
    {
        get
        {
            lock (_gate)
                return [.. _alerts];
        }
    }

    public bool InIntegrityMode(int vcpu)
    {
        lock (_gate)
            return _inMode.Contains(vcpu);
    }

    private ulong RegisterDriver(in HypercallContext call)
    {
        if (Level == IntegrityLevel.Off)
            return IntegrityResults.Disabled;
        var r = call.Registers;
        if (Driver is not null)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.WrongState, "a second registration of the integrity driver");
        if (call.Control is not { } control)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, "the engine offers no CR3 for the registration");
        var driver = new IntegrityDriver(r.Rbx, r.Rcx, r.Rsi, control.ReadCr3(), r.Rdi);
        if (CheckEntryPoint(driver) is { } problem)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, problem);
        var (map, error) = Resolve(driver);
        if (map is null)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, error!);
        for (var page = driver.CodeStart & ~0xFFFUL; page < driver.CodeEnd; page += 0x1000)
        {
            if (!map.Ranges.Any(range => range.Contains(page)))
                return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, $"the driver's code page 0x{page:X} is not in its protected-page tree");
        }
        lock (_gate)
        {
            if (_driver is not null)
                return IntegrityResults.WrongState; // two vCPUs registering at once: the first one won
            _driver = driver;
            _map = map;
        }
        _tracer.Update(map.TracedPages, [], OnWrite, call.VcpuId);
        Notify(ProtectionChanged);
        return IntegrityResults.Ok;
    }

    private ulong Enter(in HypercallContext call)
    {
        if (Level == IntegrityLevel.Off)
            return IntegrityResults.Disabled;
        if (CheckEntryPoint(call, "integrity mode") is { } refused)
            return refused;
        lock (_gate)
            _inMode.Add(call.VcpuId);
        return IntegrityResults.Ok;
    }

    /// <summary>
    /// Null when <paramref name="call"/> was issued from the registered entry point with the driver's CR3; otherwise
    /// the refusal's result, with its alert raised. <paramref name="what"/> names what was asked for.
    /// </summary>
    internal ulong? CheckEntryPoint(in HypercallContext call, string what)
    {
        if (Driver is not { } driver)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.WrongState, $"{what} asked for before a driver registered");
        var rip = call.Registers.Rip;
        // Engines report the hypercall's RIP at its `out` (hardware KVM) or just past it (the software engine, some
        // nested KVMs); registration made sure no other `out` sits at either place.
        if (rip != driver.EntryPoint && rip != driver.EntryPoint + 1)
            return Refuse(call, IntegrityAlertKind.EntryPoint, IntegrityResults.Refused, $"{what} asked for from 0x{rip:X}, not the entry point 0x{driver.EntryPoint:X}");
        var cr3 = call.Control?.ReadCr3();
        if (cr3 != driver.Cr3)
            return Refuse(call, IntegrityAlertKind.EntryPoint, IntegrityResults.Refused, $"{what} asked for with CR3 0x{cr3:X}, not the driver's 0x{driver.Cr3:X}");
        return null;
    }

    private ulong Leave(in HypercallContext call)
    {
        if (Level == IntegrityLevel.Off)
            return IntegrityResults.Disabled;
        IntegrityDriver driver;
        lock (_gate)
        {
            if (_driver is null || !_inMode.Contains(call.VcpuId))
                driver = null!;
            else
                driver = _driver;
        }
        if (driver is null)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Refused, "integrity mode left without being entered (a change of the protected set outside it)");
        var (map, error) = Resolve(driver);
        ProtectionMap old;
        lock (_gate)
        {
            _inMode.Remove(call.VcpuId);
            old = _map;
            if (map is not null)
                _map = map; // before the tracing changes: a page traced anew is classified by the new map
        }
        if (map is null)
            return Refuse(call, IntegrityAlertKind.Protocol, IntegrityResults.Invalid, $"the changed tree is refused, the protections stay as they were: {error}");
        _tracer.Update([.. map.TracedPages.Except(old.TracedPages)], [.. old.TracedPages.Except(map.TracedPages)], OnWrite, call.VcpuId);
        Notify(ProtectionChanged);
        return IntegrityResults.Ok;
    }

    /// <summary>The trace handler of every page the map traces.</summary>
    private TraceDecision OnWrite(TracedWrite write)
    {
        ProtectionMap map;
        lock (_gate)
        {
            if (write.Origin != WriteOrigin.Device && _inMode.Contains(write.Vcpu))
                return TraceDecision.Apply; // the driver at work
            map = _map;
        }
        var hits = map.Classify(_memory, write.Address, write.After);
        if (hits.Count == 0)
            return TraceDecision.Apply; // an unprotected neighbour on a traced page
        var first = hits.MaxBy(h => h.Range.Action);
        var decision = Level == IntegrityLevel.Audit ? TraceDecision.Apply : first.Range.Action switch
        {
            ProtectionAction.Alert => TraceDecision.Apply,
            ProtectionAction.Refuse => TraceDecision.Refuse,
            _ => TraceDecision.Stop,
        };
        var detail = string.Join("; ", hits.Select(h => h.Detail)) + (write.Device is { } d ? $" (DMA by {d})" : "");
        Raise(first.Kind, write.Vcpu, write.Device, write.Rip, write.Address, first.Virtual, write.Before, write.After, first.Range.Action, decision == TraceDecision.Apply, detail);
        return decision;
    }

    private (ProtectionMap? Map, string? Error) Resolve(IntegrityDriver driver)
    {
        var (ranges, error) = ProtectionTree.Read(_memory, driver.Cr3, driver.TreeRoot);
        return error is null ? ProtectionMap.Build(_memory, driver.Cr3, ranges) : (null, error);
    }

    /// <summary>The entry point must be an <c>out dx, eax</c> inside the code with no other one right before or after it.</summary>
    private string? CheckEntryPoint(IntegrityDriver d)
    {
        if (d.CodeEnd <= d.CodeStart || d.CodeEnd - d.CodeStart > (16UL << 20) || d.EntryPoint <= d.CodeStart || d.EntryPoint + 1 >= d.CodeEnd)
            return $"driver code [0x{d.CodeStart:X}, 0x{d.CodeEnd:X}) with entry point 0x{d.EntryPoint:X} is not a plausible driver";
        Span<byte> bytes = stackalloc byte[3];
        for (var i = 0; i < 3; i++)
        {
            var walk = GuestPageWalker.Walk(_memory, d.Cr3, d.EntryPoint - 1 + (ulong)i);
            if (!walk.Succeeded || !_memory.TryRead(walk.Physical, bytes.Slice(i, 1)))
                return $"the entry point 0x{d.EntryPoint:X} does not translate: {walk.Fault}";
        }
        return bytes[1] == OutDxEax && bytes[0] != OutDxEax && bytes[2] != OutDxEax
            ? null
            : $"the entry point 0x{d.EntryPoint:X} is not a lone `out dx, eax` ({Convert.ToHexString(bytes)})";
    }

    internal ulong Refuse(in HypercallContext call, IntegrityAlertKind kind, ulong result, string detail)
    {
        Raise(kind, call.VcpuId, null, call.Registers.Rip, 0, null, [], [], ProtectionAction.Refuse, false, $"hypercall 0x{call.Number:X}: {detail}");
        _tracer.Ring.RecordRefused(call.VcpuId, call.Registers.Rip, $"integrity: {detail}");
        return result;
    }

    private void Raise(IntegrityAlertKind kind, int vcpu, string? device, ulong? rip, ulong physical, ulong? virtualAddress, byte[] before, byte[] after, ProtectionAction action, bool applied, string detail)
    {
        IntegrityAlert alert;
        lock (_gate)
        {
            alert = new IntegrityAlert(++_sequence, _time.GetUtcNow(), kind, vcpu, device, rip, physical, virtualAddress, before, after, action, applied, detail);
            _alerts.Enqueue(alert);
            if (_alerts.Count > AlertCapacity)
                _alerts.Dequeue();
        }
        Notify(() => AlertRaised?.Invoke(alert));
    }

    private static void Notify(Action? subscribers)
    {
        try
        {
            subscribers?.Invoke();
        }
#pragma warning disable CA1031 // A failing subscriber must not decide a guest's write or hypercall.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
