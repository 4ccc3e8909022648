namespace Vdi.Server.Accounts;

/// <summary>
/// How many sign-in attempts are allowed before the answer is 429 (with Retry-After). Bound from
/// "Vdi:SignIn". There is no account lockout: the limits pass with their window, and say so.
/// </summary>
public sealed class SignInLimits
{
    /// <summary>Attempts, right or wrong, from one client address per <see cref="AddressWindow"/>.</summary>
    public int AttemptsPerAddress { get; set; } = 10;

    public TimeSpan AddressWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Failed attempts for one user name, from any address, per <see cref="UserNameWindow"/>.</summary>
    public int FailuresPerUserName { get; set; } = 20;

    public TimeSpan UserNameWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a sign-in lasts without use (sliding); a viewer's session ends with the sign-in it connected with.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromDays(14);
}
