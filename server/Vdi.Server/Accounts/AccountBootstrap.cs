using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vdi.Server.Storage;

namespace Vdi.Server.Accounts;

/// <summary>
/// First-run set-up (the database is migrated before it, by StorageMigrator): creates the roles and the first administrator. A generated
/// password is written once to a file in the data folder readable only by the server's user
/// (<see cref="PasswordFileName"/>, mode 0600); only that file's path is printed, on standard error,
/// so the password never reaches a console or container log.
/// </summary>
public sealed class AccountBootstrap(IServiceProvider services, IOptions<AdminOptions> admin, IOptions<StorageOptions> storage, ILogger<AccountBootstrap> log) : IHostedService
{
    public const string PasswordFileName = "admin-password";

    /// <summary>
    /// Hosts that share a database may start together: whatever another host created meanwhile (a role, the
    /// administrator) is found on the next attempt and kept.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await EnsureAsync(cancellationToken);
                return;
            }
            catch (Exception e) when (e is DbUpdateException or InvalidOperationException && attempt < 5)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken);
            }
        }
    }

    private async Task EnsureAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var roles = scope.ServiceProvider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var role in new[] { Roles.Admin, Roles.User })
        {
            if (!await roles.RoleExistsAsync(role))
                Check(await roles.CreateAsync(new IdentityRole(role)), $"create role {role}");
        }

        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        if ((await users.GetUsersInRoleAsync(Roles.Admin)).Count > 0)
            return;
        var options = admin.Value;
        // Made by this host's previous attempt, or by another host that has not granted its roles yet.
        var user = await users.FindByNameAsync(options.UserName);
        string? generated = null;
        if (user is null)
        {
            var password = options.Password is { Length: > 0 } configured ? configured : generated = Generate();
            user = new IdentityUser(options.UserName);
            Check(await users.CreateAsync(user, password), $"create administrator '{options.UserName}'");
        }
        foreach (var role in new[] { Roles.Admin, Roles.User })
        {
            if (!await users.IsInRoleAsync(user, role))
                Check(await users.AddToRoleAsync(user, role), $"grant the administrator the role {role}");
        }
        if (generated is not null)
        {
            var file = WritePasswordFile(generated);
            await Console.Error.WriteLineAsync($"Vdi: created administrator '{options.UserName}'; its password is in {file} (readable only by this user; set Vdi:Admin:Password or VDI_ADMIN_PASSWORD to choose one)");
        }
        AccountLog.AdministratorCreated(log, options.UserName);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Writes the password to the data folder, created with mode 0600 (a file left from before is replaced).</summary>
    private string WritePasswordFile(string password)
    {
        var path = Path.Combine(Path.GetFullPath(storage.Value.DataDirectory), PasswordFileName);
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(path, new System.Text.UTF8Encoding(false), options))
            writer.WriteLine(password);
        return path;
    }

    private static string Generate()
    {
        // 18 random bytes, base64url, plus one of each class Identity's default policy asks for.
        return Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', 'x').Replace('/', 'y') + "-Aa1";
    }

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
            throw new InvalidOperationException($"cannot {what}: {string.Join("; ", result.Errors.Select(e => e.Description))}");
    }
}

internal static partial class AccountLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Created administrator {UserName}")]
    public static partial void AdministratorCreated(ILogger logger, string userName);
}
