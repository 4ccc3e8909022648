using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Tracing;

/// <summary>
/// A machine's write tracing: any set of guest-physical pages can be traced, each run with a <see cref="TraceHandler"/>
/// that decides every write to it — by a vCPU on either engine, or by a device through <see cref="GuestMemory"/> —
/// before it lands: <see cref="TraceDecision.Apply"/>, <see cref="TraceDecision.Refuse"/> or
/// <see cref="TraceDecision.Stop"/>. Every decision goes into the machine's <see cref="TraceRing"/>.
/// <list type="bullet">
/// <item>On KVM a traced run is a read-only slot of its own (<see cref="TracedSlots"/>); a write exits as MMIO and the
/// exit dispatcher hands it here. KVM has retired the instruction by then, so resuming completes it either way.</item>
/// <item>On the software engine the page bitmap keeps traced pages out of the TLB's store tags: stores to them take the
/// slow path to the bus, which hands them here; untraced stores stay on the unchanged fast path.</item>
/// <item>Devices: while anything is traced this is the memory's <see cref="IDeviceWriteCheck"/>.</item>
/// </list>
/// <see cref="Trace"/> and <see cref="Untrace"/> change the layout with every vCPU parked (pause-all), from a host
/// thread; they serialise on the tracer's lock.
/// </summary>
public sealed class WriteTracer : IDeviceWriteCheck
{
    private const ulong PageSize = 1UL << TracedPages.PageShift;

    private readonly Lock _gate = new(); // serialises Trace/Untrace; held across the pause
    private readonly Lock _handlersGate = new(); // _handlers, held briefly: a vCPU deciding a write takes it
    private readonly GuestMemory _memory;
    private readonly bool _splitSlots;
    private readonly Dictionary<ulong, TraceHandler> _handlers = []; // by page number
    private long _hits;

    internal WriteTracer(GuestMemory memory, TraceRing ring, bool splitSlots)
    {
        _memory = memory;
        _splitSlots = splitSlots;
        Ring = ring;
        Pages = new TracedPages(memory.Top);
    }

    /// <summary>The machine's trace ring: every traced write with its decision.</summary>
    public TraceRing Ring { get; }

    /// <summary>Traced writes decided so far.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Pages traced now.</summary>
    public int TracedPageCount
    {
        get
        {
            lock (_handlersGate)
                return _handlers.Count;
        }
    }

    internal TracedPages Pages { get; }

    /// <summary>Runs a layout change with every vCPU parked (the machine's pause-all; runs it directly when no vCPU runs).</summary>
    internal Action<Action>? RunPaused { get; set; }

    /// <summary>Runs a layout change on vCPU <c>n</c>'s own thread with every other vCPU parked (a hypercall's change).</summary>
    internal Action<int, Action>? RunPausedFromVcpu { get; set; }

    /// <summary>Stops the machine for a <see cref="TraceDecision.Stop"/>: the vCPU (or -1 for a device) and the reason.</summary>
    internal Action<int, string>? StopMachine { get; set; }

    public bool IsTraced(ulong address) => Pages.IsTraced(address);

    /// <summary>
    /// Traces the pages of [address, address + length) (widened to whole pages) with <paramref name="handler"/>, which
    /// replaces the handler of pages already traced.
    /// </summary>
    public void Trace(ulong address, ulong length, TraceHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var (start, end) = Pages4K(address, length);
        lock (_gate)
        {
            Change(() =>
            {
                if (_splitSlots)
                {
                    try
                    {
                        TracedSlots.SetReadOnly(_memory, start, end, readOnly: true);
                    }
                    catch
                    {
                        TracedSlots.SetReadOnly(_memory, start, end, readOnly: false); // no half-traced run stays read-only
                        throw;
                    }
                }
                lock (_handlersGate)
                {
                    for (var page = start >> TracedPages.PageShift; page < end >> TracedPages.PageShift; page++)
                    {
                        _handlers[page] = handler;
                        Pages.Set(page, traced: true);
                    }
                }
            });
        }
    }

    /// <summary>Stops tracing the pages of [address, address + length); their stores are direct again.</summary>
    public void Untrace(ulong address, ulong length)
    {
        var (start, end) = Pages4K(address, length);
        lock (_gate)
        {
            Change(() =>
            {
                lock (_handlersGate)
                {
                    for (var page = start >> TracedPages.PageShift; page < end >> TracedPages.PageShift; page++)
                    {
                        _handlers.Remove(page);
                        Pages.Set(page, traced: false);
                    }
                }
                if (_splitSlots)
                    TracedSlots.SetReadOnly(_memory, start, end, readOnly: false);
            });
        }
    }

    /// <summary>
    /// Traces the 4 KiB pages numbered in <paramref name="trace"/> (page number = address / 4096) with
    /// <paramref name="handler"/> and stops tracing those in <paramref name="untrace"/>, in one pause. Called on a vCPU's
    /// thread (a hypercall's handler), <paramref name="callerVcpu"/> names it: the others park while it waits for them.
    /// </summary>
    public void Update(IReadOnlyCollection<ulong> trace, IReadOnlyCollection<ulong> untrace, TraceHandler handler, int? callerVcpu = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        foreach (var page in trace.Concat(untrace))
            _ = Pages4K(page << TracedPages.PageShift, PageSize);
        if (trace.Count == 0 && untrace.Count == 0)
            return;
        lock (_gate)
        {
            Change(() =>
            {
                if (_splitSlots)
                {
                    foreach (var (start, end) in Runs(untrace))
                        TracedSlots.SetReadOnly(_memory, start, end, readOnly: false);
                    foreach (var (start, end) in Runs(trace))
                        TracedSlots.SetReadOnly(_memory, start, end, readOnly: true);
                }
                lock (_handlersGate)
                {
                    foreach (var page in untrace)
                    {
                        _handlers.Remove(page);
                        Pages.Set(page, traced: false);
                    }
                    foreach (var page in trace)
                    {
                        _handlers[page] = handler;
                        Pages.Set(page, traced: true);
                    }
                }
            }, callerVcpu);
        }
    }

    /// <summary>
    /// A vCPU's write to a traced page: decides it, applies it through the host mapping on <see cref="TraceDecision.Apply"/>,
    /// records it. <paramref name="rip"/> is the vCPU's RIP as the engine reports it at the write.
    /// </summary>
    internal TraceDecision OnGuestWrite(WriteOrigin origin, int vcpu, ulong rip, ulong address, ReadOnlySpan<byte> data)
    {
        var decision = Decide(origin, vcpu, null, rip, address, data);
        if (decision == TraceDecision.Apply)
            _memory.WriteUntraced(address, data);
        return decision;
    }

    /// <summary>A device's write (DMA): true to let it land; refused or stopping writes are not made.</summary>
    bool IDeviceWriteCheck.AllowDeviceWrite(string writer, ulong address, ReadOnlySpan<byte> data) =>
        !Pages.AnyTraced(address, (ulong)data.Length) || Decide(WriteOrigin.Device, -1, writer, null, address, data) == TraceDecision.Apply;

    private TraceDecision Decide(WriteOrigin origin, int vcpu, string? device, ulong? rip, ulong address, ReadOnlySpan<byte> data)
    {
        var before = new byte[data.Length];
        _memory.TryRead(address, before);
        var write = new TracedWrite(origin, vcpu, device, rip, address, before, data.ToArray());
        var handler = HandlerFor(address, (ulong)data.Length);
        TraceDecision decision;
        try
        {
            decision = handler?.Invoke(write) ?? TraceDecision.Apply; // untraced meanwhile: as if never traced
        }
#pragma warning disable CA1031 // A failing handler refuses one write; it never takes the VMM down.
        catch (Exception)
#pragma warning restore CA1031
        {
            decision = TraceDecision.Refuse;
        }
        Interlocked.Increment(ref _hits);
        Ring.RecordWrite(write, decision);
        if (decision == TraceDecision.Stop)
            StopMachine?.Invoke(vcpu, $"traced write stopped the machine: {write}");
        return decision;
    }

    private TraceHandler? HandlerFor(ulong address, ulong length)
    {
        lock (_handlersGate)
        {
            for (var page = address >> TracedPages.PageShift; page <= (address + length - 1) >> TracedPages.PageShift; page++)
            {
                if (_handlers.TryGetValue(page, out var handler))
                    return handler;
            }
            return null;
        }
    }

    private void Change(Action change, int? callerVcpu = null)
    {
        var run = callerVcpu is { } vcpu && RunPausedFromVcpu is { } fromVcpu ? a => fromVcpu(vcpu, a) : RunPaused ?? (static a => a());
        run(() =>
        {
            change();
            _memory.DeviceWriteCheck = TracedPageCount > 0 ? this : null;
            _memory.InvalidateCachedTranslations(); // software TLBs drop store tags of newly traced pages, or regain them
        });
    }

    /// <summary>Page numbers as runs of consecutive pages, [start, end) in bytes.</summary>
    private static IEnumerable<(ulong Start, ulong End)> Runs(IEnumerable<ulong> pages)
    {
        ulong? first = null, last = null;
        foreach (var page in pages.Order())
        {
            if (last is { } l && page == l + 1)
            {
                last = page;
                continue;
            }
            if (first is { } f)
                yield return (f << TracedPages.PageShift, (last!.Value + 1) << TracedPages.PageShift);
            first = last = page;
        }
        if (first is { } start)
            yield return (start << TracedPages.PageShift, (last!.Value + 1) << TracedPages.PageShift);
    }

    private (ulong Start, ulong End) Pages4K(ulong address, ulong length)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        var start = address & ~(PageSize - 1);
        var end = (address + length + PageSize - 1) & ~(PageSize - 1);
        if (end < start || end > Pages.Top || !_memory.IsRam(start, end - start))
            throw new ArgumentOutOfRangeException(nameof(address), $"[0x{address:X}, +0x{length:X}) is not guest RAM");
        return (start, end);
    }
}
