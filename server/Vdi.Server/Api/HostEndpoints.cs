using Vdi.Server.Accounts;
using Vdi.Server.Cluster;

namespace Vdi.Server.Api;

/// <summary><c>GET /api/hosts</c> (administrators): the hosts, their state and load.</summary>
public static class HostEndpoints
{
    public static void MapHostEndpoints(this IEndpointRouteBuilder app)
    {
        var hosts = app.MapGroup("/api/hosts").RequireAuthorization(Roles.Admin);
        hosts.MapGet("/", async (IHostRoster roster, CancellationToken cancellationToken) => TypedResults.Ok(await roster.ListAsync(cancellationToken)));
    }
}
