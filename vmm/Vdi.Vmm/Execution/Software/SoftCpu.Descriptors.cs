using Vdi.Vmm.Boot;
using Vdi.Vmm.State;

namespace Vdi.Vmm.Execution.Software;

/// <summary>
/// The segment registers and the GDT register of the software engine. The engine runs flat CPL-0 long mode and never
/// loads a segment (no segment bases, no privilege changes), so these are carried values: the long-mode setup's
/// (<see cref="LongModeSetup.Segments"/>) until a state restores others, which it accepts only when they describe what
/// the engine runs — a present 64-bit DPL-0 code segment with base 0, flat data segments (or unusable ones), FS and GS
/// with base 0. TR, LDTR and the GDT register are carried as they are: nothing the engine runs uses them.
/// </summary>
internal sealed partial class SoftCpu
{
    private SegmentRegister[] _segments = LongModeSetup.Segments();

    public ulong GdtBase { get; private set; } = GuestLayout.GdtAddress;

    public ushort GdtLimit { get; private set; } = LongModeSetup.GdtLimit;

    /// <summary>Why the engine cannot run with <paramref name="segments"/>, or null when it can.</summary>
    private static string? RefusedSegments(SegmentRegister[] segments)
    {
        var cs = segments[SegmentRegister.Cs];
        const uint codeNeeds = SegmentRegister.Present | SegmentRegister.CodeOrData | SegmentRegister.Code | SegmentRegister.LongMode;
        if ((cs.Attributes & (codeNeeds | SegmentRegister.Unusable | SegmentRegister.Default32)) != codeNeeds || cs.Dpl != 0 || cs.Base != 0)
            return $"CS ({cs}) is not the flat 64-bit DPL-0 code segment the software engine runs";
        foreach (var at in (int[])[SegmentRegister.Ds, SegmentRegister.Es, SegmentRegister.Fs, SegmentRegister.Gs, SegmentRegister.Ss])
        {
            var s = segments[at];
            var name = SegmentRegister.Names[at].ToUpperInvariant();
            if (s.Base != 0)
                return $"{name} has base 0x{s.Base:X}: the software engine has no segment bases";
            if (s.IsUnusable)
                continue;
            if (!s.IsPresent || (s.Attributes & (SegmentRegister.CodeOrData | SegmentRegister.Code)) != SegmentRegister.CodeOrData || s.Limit != uint.MaxValue
                || (at == SegmentRegister.Ss && s.Dpl != 0))
                return $"{name} ({s}) is not a flat data segment";
        }
        return null;
    }

    private void ImportDescriptors(VcpuSnapshot s)
    {
        _segments = (SegmentRegister[])s.Segments.Clone();
        (GdtBase, GdtLimit) = (s.GdtBase, s.GdtLimit);
    }
}
