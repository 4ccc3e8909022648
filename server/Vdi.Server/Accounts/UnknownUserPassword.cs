using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;

namespace Vdi.Server.Accounts;

/// <summary>
/// Equal work for a user name that does not exist: its password is checked against the hash of a random
/// password made with the same hasher and settings as real ones, so a sign-in takes as long whether or not
/// the user exists and timing does not tell user names apart. Scoped, like the hasher it uses.
/// </summary>
public sealed class UnknownUserPassword(IPasswordHasher<IdentityUser> hasher)
{
    private static readonly IdentityUser Nobody = new("nobody");

    // Made once per process by the first sign-in for an unknown name; the hasher's settings do not change.
    private static string? s_hash;

    /// <summary>Spends what checking a real password spends; never succeeds.</summary>
    public void Verify(string password)
    {
        var hash = s_hash ??= hasher.HashPassword(Nobody, Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));
        hasher.VerifyHashedPassword(Nobody, hash, password);
    }
}
