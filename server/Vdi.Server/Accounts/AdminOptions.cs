namespace Vdi.Server.Accounts;

/// <summary>The first administrator. Bound from "Vdi:Admin"; the password may also come from VDI_ADMIN_PASSWORD.</summary>
public sealed class AdminOptions
{
    public string UserName { get; set; } = "admin";

    /// <summary>When empty on first run, a password is generated and printed once.</summary>
    public string? Password { get; set; }
}
