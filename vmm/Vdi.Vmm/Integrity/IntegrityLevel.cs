namespace Vdi.Vmm.Integrity;

/// <summary>How a machine treats its integrity driver's protections.</summary>
public enum IntegrityLevel
{
    /// <summary>The integrity hypercalls are refused; nothing is traced.</summary>
    Off,

    /// <summary>Everything is traced and alerted, but every write lands: an alert says what enforce would have done.</summary>
    Audit,

    /// <summary>Each protection's action applies: alert, refuse the write, or stop the machine.</summary>
    Enforce,
}

/// <summary>What a protected page's node asks for when something writes it (a tree node's action field).</summary>
public enum ProtectionAction : uint
{
    /// <summary>The write lands; an alert records it.</summary>
    Alert = 1,

    /// <summary>The write is dropped and the guest continues; an alert records it.</summary>
    Refuse = 2,

    /// <summary>The write is dropped and the machine stops, naming it.</summary>
    Stop = 3,
}
