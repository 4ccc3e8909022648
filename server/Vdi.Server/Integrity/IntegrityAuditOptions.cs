namespace Vdi.Server.Integrity;

/// <summary>
/// How many integrity alerts of one desktop the audit log takes. Bound from "Vdi:Integrity". In each window a desktop's
/// first <see cref="EntriesPerWindow"/> alerts get an entry each; the rest of the window's are coalesced into one
/// entry with their count, written when the window ends — so a guest raising alerts without end adds at most
/// <see cref="EntriesPerWindow"/> + 1 entries a window.
/// </summary>
public sealed class IntegrityAuditOptions
{
    public int WindowSeconds { get; set; } = 60;

    public int EntriesPerWindow { get; set; } = 10;
}
