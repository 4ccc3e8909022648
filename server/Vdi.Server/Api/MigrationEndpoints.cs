using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Accounts;
using Vdi.Server.Desktops;
using Vdi.Server.Storage;
using Vdi.Vmm.Migration;

namespace Vdi.Server.Api;

/// <summary>
/// Live migration of a running desktop to a new VMM instance (administrators): <c>POST /api/desktops/{id}/migrate</c>
/// starts one and answers 202 with its status; <c>GET /api/desktops/{id}/migration</c> gives the latest. The audit
/// log records the start, and the success (downtime, total, rounds, bytes) or the failure (why).
/// </summary>
public static class MigrationEndpoints
{
    public static void MapMigrationEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/desktops").WithTags("desktops").RequireAuthorization(Roles.Admin);

        admin.MapPost("/{id:guid}/migrate", async Task<IResult> (Guid id, HttpRequest request, ClaimsPrincipal user, VdiDbContext db, DesktopPool pool, AuditLog audit,
            IServiceScopeFactory scopes) =>
        {
            var body = new MigrateRequest();
            if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
            {
                using var reader = new StreamReader(request.Body);
                var json = await reader.ReadToEndAsync();
                if (json.Trim().Length > 0)
                {
                    if (!ProtocolJson.TryDeserialize<MigrateRequest>(json, out var parsed, out var invalid))
                        return Problems.Validation(invalid);
                    body = parsed;
                }
            }
            if (body.Validate() is { Count: > 0 } errors)
                return Problems.Validation(errors);
            var record = await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id);
            if (record is null || pool.Get(id) is not { } host)
                return Problems.NotFound($"no desktop {id}");
            var options = new MigrationOptions
            {
                DowntimeTarget = TimeSpan.FromMilliseconds(body.DowntimeMs ?? MigrateRequest.DefaultDowntimeMs),
                MaxRounds = body.MaxRounds ?? MigrateRequest.DefaultMaxRounds,
            };
            (MigrationStatus Status, Task<MigrationStatus> Ended) started;
            try
            {
                started = host.StartMigration(options);
            }
            catch (InvalidOperationException e)
            {
                return Problems.Conflict(e.Message);
            }
            var caller = Caller.From(user).UserId;
            audit.Add(db, caller, "desktop.migrate", $"{record.Name} ({record.Id}): started, downtime target {options.DowntimeTarget.TotalMilliseconds:0} ms");
            await db.SaveChangesAsync();
            _ = RecordEndAsync(started.Ended, record.Name, record.Id, caller, scopes, audit);
            return TypedResults.Accepted($"/api/desktops/{id}/migration", started.Status);
        }).WithDescription("Moves a running desktop to a new VMM instance by live migration; its viewers stay connected and follow it. " +
            "Optional body { downtimeMs (1-60000, default 50), maxRounds (0-1000, default 30) }. 202 with the migration's status; " +
            "409 when the desktop does not run or already migrates.");

        admin.MapGet("/{id:guid}/migration", IResult (Guid id, DesktopPool pool) =>
            pool.Get(id) is not { } host ? Problems.NotFound($"no desktop {id}")
            : host.Migration is { } status ? TypedResults.Ok(status)
            : Problems.NotFound($"desktop '{host.Name}' has not migrated"))
            .WithDescription("The desktop's latest live migration: phase, round, pages, bytes, rate, result, downtime, total, error.");
    }

    /// <summary>The migration's end in the audit log, from a scope of its own (the request is long gone).</summary>
    private static async Task RecordEndAsync(Task<MigrationStatus> ended, string name, Guid id, string? caller, IServiceScopeFactory scopes, AuditLog audit)
    {
        var status = await ended.ConfigureAwait(false);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var detail = status.Result == MigrationStatus.Succeeded
            ? FormattableString.Invariant($"{name} ({id}): succeeded, downtime {status.DowntimeMs:0.0} ms, total {status.TotalMs:0} ms, {status.Rounds} round(s), {status.BytesSent} bytes")
            : $"{name} ({id}): failed, {status.Error}";
        audit.Add(db, caller, status.Result == MigrationStatus.Succeeded ? "desktop.migrate.succeeded" : "desktop.migrate.failed", detail);
        await db.SaveChangesAsync().ConfigureAwait(false);
    }
}
