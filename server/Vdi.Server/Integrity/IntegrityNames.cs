using Vdi.Protocol;
using Vdi.Vmm.Integrity;

namespace Vdi.Server.Integrity;

/// <summary>The API's spellings of the VMM's integrity values: levels, alert kinds and protection actions.</summary>
public static class IntegrityNames
{
    /// <summary>A stored or requested level; anything <see cref="IntegrityLevels.Normalize"/> does not know is the default, enforce.</summary>
    public static IntegrityLevel Parse(string? level) => IntegrityLevels.Normalize(level) switch
    {
        IntegrityLevels.Off => IntegrityLevel.Off,
        IntegrityLevels.Audit => IntegrityLevel.Audit,
        _ => IntegrityLevel.Enforce,
    };

    public static string Name(IntegrityLevel level) => level switch
    {
        IntegrityLevel.Off => IntegrityLevels.Off,
        IntegrityLevel.Audit => IntegrityLevels.Audit,
        _ => IntegrityLevels.Enforce,
    };

    public static string Name(IntegrityAlertKind kind) => kind switch
    {
        IntegrityAlertKind.ProtectedPage => "protected-page",
        IntegrityAlertKind.PageTable => "page-table",
        IntegrityAlertKind.Tree => "tree",
        IntegrityAlertKind.EntryPoint => "entry-point",
        _ => "protocol",
    };

    public static string Name(ProtectionAction action) => action switch
    {
        ProtectionAction.Alert => "alert",
        ProtectionAction.Refuse => "refuse",
        _ => "stop",
    };

    public static string Hex(ulong value) => $"0x{value:X}";
}
