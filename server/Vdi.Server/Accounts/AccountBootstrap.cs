using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vdi.Server.Storage;

namespace Vdi.Server.Accounts;

/// <summary>
/// First-run set-up: creates the database, the roles and the first administrator. A generated
/// password is printed once, to the console, and never stored in clear.
/// </summary>
public sealed class AccountBootstrap(IServiceProvider services, IOptions<AdminOptions> admin, ILogger<AccountBootstrap> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        await db.Database.EnsureCreatedAsync(cancellationToken);
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
        var password = options.Password is { Length: > 0 } configured ? configured : Generate();
        var user = new IdentityUser(options.UserName);
        Check(await users.CreateAsync(user, password), $"create administrator '{options.UserName}'");
        Check(await users.AddToRolesAsync(user, [Roles.Admin, Roles.User]), "grant the administrator its roles");
        if (options.Password is not { Length: > 0 })
        {
            // Shown once on purpose: the console of the first run is the only place it appears.
            Console.WriteLine($"Vdi: created administrator '{options.UserName}' with password {password} (shown once; set Vdi:Admin:Password or VDI_ADMIN_PASSWORD to choose one)");
        }
        AccountLog.AdministratorCreated(log, options.UserName);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

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
