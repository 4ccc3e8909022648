using Vdi.Vmm.Memory;

namespace Vdi.Vmm.Introspection;

/// <summary>Where a read by guest-virtual address stopped: the address that did not translate, and why.</summary>
public readonly record struct IntrospectionFault(ulong Linear, WalkFault Fault)
{
    /// <summary>The page-fault error code the guest would have seen for a supervisor read of it.</summary>
    public uint PageFaultErrorCode => Fault == WalkFault.Reserved ? 0b1001u : 0u;

    public override string ToString() => $"0x{Linear:X}: {Fault}";
}

/// <summary>What a fault handler did about a fault met during a read.</summary>
public enum FaultResolution
{
    /// <summary>Nothing: the read ends with the fault as its error.</summary>
    Fail,

    /// <summary>The handler wrote the missing bytes (the rest of the faulting page, or of the read) into the span it was given.</summary>
    Supplied,

    /// <summary>The handler fixed the cause (e.g. mapped the page): walk again.</summary>
    Retry,
}

/// <summary>
/// A handler set up before a read: it sees the fault and the part of the destination the faulting page would have
/// filled, and may supply the bytes or fix the cause. It runs on the reading thread.
/// </summary>
public delegate FaultResolution IntrospectionFaultHandler(IntrospectionFault fault, Span<byte> missing);

/// <summary>
/// The outcome of a read: the bytes read (all of them when <see cref="Succeeded"/>), the fault that ended it otherwise,
/// how often a handler retried and whether a fault was forwarded to the guest.
/// </summary>
public readonly record struct GuestRead(bool Succeeded, int Length, IntrospectionFault? Fault, int Retries = 0, bool Forwarded = false)
{
    public override string ToString() => Succeeded ? $"{Length} bytes" : $"failed after {Length} bytes at {Fault}";
}

/// <summary>
/// Fault-safe reads of guest memory by guest-virtual address through a CR3 (the host's page walk,
/// <see cref="GuestPageWalker"/>): a fault on the way — not present, reserved bits, non-canonical, outside RAM — never
/// throws into the VMM. Per read the caller chooses what a fault means: without a handler, an error result; with one,
/// whatever the handler does (supply the bytes, fix the cause and retry, or fail). Forwarding the fault to the guest is
/// <see cref="Machine.Machine.ReadVirtualForwardingAsync"/>, which needs the machine's vCPUs.
/// </summary>
public static class GuestReader
{
    /// <summary>Retries a handler may ask for per read before the read fails.</summary>
    public const int MaxRetries = 8;

    public static GuestRead Read(GuestMemory memory, ulong cr3, ulong linear, Span<byte> destination, IntrospectionFaultHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var done = 0;
        var retries = 0;
        while (done < destination.Length)
        {
            var at = linear + (ulong)done;
            var chunk = (int)Math.Min((ulong)(destination.Length - done), 0x1000 - (at & 0xFFF));
            var walk = GuestPageWalker.Walk(memory, cr3, at);
            if (walk.Succeeded && memory.TryRead(walk.Physical, destination.Slice(done, chunk)))
            {
                done += chunk;
                continue;
            }
            var fault = new IntrospectionFault(at, walk.Succeeded ? WalkFault.OutsideRam : walk.Fault);
            var resolution = handler is null ? FaultResolution.Fail : handler(fault, destination.Slice(done, chunk));
            switch (resolution)
            {
                case FaultResolution.Supplied:
                    done += chunk;
                    break;
                case FaultResolution.Retry when ++retries <= MaxRetries:
                    break;
                default:
                    return new GuestRead(false, done, fault, retries);
            }
        }
        return new GuestRead(true, done, null, retries);
    }
}
