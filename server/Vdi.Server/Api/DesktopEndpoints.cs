using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Accounts;
using Vdi.Server.Cluster;
using Vdi.Server.Desktops;
using Vdi.Server.Storage;

namespace Vdi.Server.Api;

/// <summary>Desktops: everyone lists the desktops they may use; administrators create, start, stop, restart and delete.</summary>
public static class DesktopEndpoints
{
    public static void MapDesktopEndpoints(this IEndpointRouteBuilder app)
    {
        var desktops = app.MapGroup("/api/desktops").WithTags("desktops").RequireAuthorization();
        desktops.MapGet("/", async (ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory) =>
        {
            var caller = Caller.From(user);
            var records = await db.Desktops.AsNoTracking().OrderBy(d => d.Name).ToListAsync();
            var summary = await directory.SummarizerAsync();
            return TypedResults.Ok(records.Where(caller.CanUse).Select(summary).ToList());
        });
        desktops.MapGet("/{id:guid}", async Task<IResult> (Guid id, ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory) =>
        {
            var record = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id);
            return record is not null && Caller.From(user).CanUse(record) ? TypedResults.Ok((await directory.SummarizerAsync())(record)) : TypedResults.NotFound();
        });

        var admin = desktops.MapGroup("/").RequireAuthorization(Roles.Admin);
        // What each desktop sends its viewers now (frames and bytes per second, connected sessions), for the dashboard.
        admin.MapGet("/activity", (DesktopPool pool, DesktopActivity activity) =>
            TypedResults.Ok(pool.Hosts.Select(h => activity.Get(h.Id)).ToList()));
        admin.MapPost("/", async Task<IResult> (CreateDesktopRequest request, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, IDesktopDirectory directory, UserManager<IdentityUser> users, AuditLog audit, TimeProvider time) =>
        {
            var errors = CreateDesktopRequest.Validate(request);
            if (errors.Count > 0)
                return Problems.Validation(errors);
            if (await db.Desktops.AnyAsync(d => d.Name == request.Name))
                return Problems.Validation([new ValidationError("name", $"a desktop named '{request.Name}' already exists")]);
            string? ownerId = null;
            if (request.OwnerUserName is { Length: > 0 } ownerName)
            {
                var owner = await users.FindByNameAsync(ownerName);
                if (owner is null)
                    return Problems.Validation([new ValidationError("ownerUserName", $"no user named '{ownerName}'")]);
                ownerId = owner.Id;
            }
            var record = new DesktopRecord
            {
                Id = Guid.NewGuid(),
                Name = request.Name,
                Vcpus = request.Vcpus,
                MemoryMiB = request.MemoryMiB,
                MaxWidth = request.MaxWidth ?? 7680,
                MaxHeight = request.MaxHeight ?? 4320,
                OwnerUserId = ownerId,
                CreatedAt = time.GetUtcNow(),
                Integrity = IntegrityLevels.Normalize(request.Integrity) ?? IntegrityLevels.Enforce,
                FaultTolerant = request.FaultTolerant,
            };
            db.Desktops.Add(record);
            audit.Add(db, Caller.From(user).UserId, "desktop.create", $"{record.Name} ({record.Id})");
            await db.SaveChangesAsync();
            await directory.LaunchAsync(record);
            return TypedResults.Created($"/api/desktops/{record.Id}", Summary(record, pool));
        });
        admin.MapPost("/{id:guid}/start", (Guid id, ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory, AuditLog audit) =>
            Lifecycle(id, user, db, directory, audit, "start", shouldRun: true));
        admin.MapPost("/{id:guid}/stop", (Guid id, ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory, AuditLog audit) =>
            Lifecycle(id, user, db, directory, audit, "stop", shouldRun: false));
        admin.MapPost("/{id:guid}/restart", (Guid id, ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory, AuditLog audit) =>
            Lifecycle(id, user, db, directory, audit, "restart", shouldRun: true));
        admin.MapDelete("/{id:guid}", async Task<IResult> (Guid id, ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory, AuditLog audit) =>
        {
            var record = await db.Desktops.FirstOrDefaultAsync(d => d.Id == id);
            if (record is null)
                return TypedResults.NotFound();
            await directory.RemoveAsync(id);
            db.Desktops.Remove(record);
            audit.Add(db, Caller.From(user).UserId, "desktop.delete", $"{record.Name} ({record.Id})");
            await db.SaveChangesAsync();
            return TypedResults.NoContent();
        });
    }

    private static async Task<IResult> Lifecycle(Guid id, ClaimsPrincipal user, VdiDbContext db, IDesktopDirectory directory, AuditLog audit, string action, bool shouldRun)
    {
        var record = await db.Desktops.FirstOrDefaultAsync(d => d.Id == id);
        if (record is null || !directory.Knows(id))
            return TypedResults.NotFound();
        record.ShouldRun = shouldRun;
        audit.Add(db, Caller.From(user).UserId, $"desktop.{action}", $"{record.Name} ({record.Id})");
        await db.SaveChangesAsync();
        await directory.ActAsync(record, action);
        return TypedResults.Ok((await directory.SummarizerAsync())(record));
    }

    internal static DesktopSummary Summary(DesktopRecord d, DesktopPool pool)
    {
        var host = pool.Get(d.Id);
        return new DesktopSummary(d.Id, d.Name, (host?.State ?? DesktopState.Stopped).ToString(), d.Vcpus, d.MemoryMiB, d.MaxWidth, d.MaxHeight, host?.StateReason, host?.Engine, host?.Sandbox,
            IntegrityLevels.Normalize(d.Integrity) ?? IntegrityLevels.Enforce, host?.IntegrityAlertCount ?? 0, host?.Migration,
            host?.FaultToleranceSummary ?? new FaultToleranceSummary(d.FaultTolerant, "stopped"));
    }
}
