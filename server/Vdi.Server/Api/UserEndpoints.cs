using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Accounts;
using Vdi.Server.Storage;

namespace Vdi.Server.Api;

/// <summary>Accounts, managed by administrators.</summary>
public static class UserEndpoints
{
    public static void MapUserEndpoints(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/api/users").WithTags("users").RequireAuthorization(Roles.Admin);
        users.MapGet("/", async (UserManager<IdentityUser> manager) =>
        {
            var list = new List<UserSummary>();
            foreach (var user in await manager.Users.OrderBy(u => u.UserName).ToListAsync())
                list.Add(new UserSummary(user.Id, user.UserName!, [.. await manager.GetRolesAsync(user)]));
            return TypedResults.Ok(list);
        });
        users.MapPost("/", async Task<IResult> (CreateUserRequest request, ClaimsPrincipal caller, UserManager<IdentityUser> manager, VdiDbContext db, AuditLog audit) =>
        {
            if (string.IsNullOrWhiteSpace(request.UserName) || request.UserName.Length > 64 || request.UserName.Any(char.IsControl))
                return Problems.Validation([new ValidationError("userName", "userName must be 1 to 64 printable characters")]);
            var user = new IdentityUser(request.UserName);
            var created = await manager.CreateAsync(user, request.Password ?? "");
            if (!created.Succeeded)
            {
                return Problems.Validation([.. created.Errors.Select(e => new ValidationError(
                    e.Code.Contains("Password", StringComparison.Ordinal) ? "password" : "userName", e.Description))]);
            }
            await manager.AddToRolesAsync(user, request.IsAdmin ? [Roles.Admin, Roles.User] : [Roles.User]);
            audit.Add(db, Caller.From(caller).UserId, "user.create", $"{user.UserName}{(request.IsAdmin ? " (admin)" : "")}");
            await db.SaveChangesAsync();
            return TypedResults.Created($"/api/users/{user.Id}", new UserSummary(user.Id, user.UserName!, [.. await manager.GetRolesAsync(user)]));
        });
    }
}
