using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Vdi.Server.Accounts;
using Vdi.Server.Api;
using Vdi.Server.Desktops;
using Vdi.Server.Display;
using Vdi.Server.Hubs;
using Vdi.Server.Sessions;
using Vdi.Server.Storage;
using Vdi.Vmm.Kvm;

namespace Vdi.Server;

/// <summary>Composition of the broker: storage, identities, desktops, the REST API.</summary>
public static class VdiServer
{
    public const string DefaultUrl = "http://localhost:5080";

    /// <summary>Largest message a client may send to the hub; input and display reports are tiny.</summary>
    public const int MaxHubMessageBytes = 32 * 1024;

    /// <summary>How long a guest may take to show a requested display before the request fails.</summary>
    public static readonly TimeSpan DisplayRequestTimeout = TimeSpan.FromSeconds(5);

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
            builder.WebHost.UseUrls(DefaultUrl);
        // The web client's files come from its project's output when run from a build (any
        // environment, not only Development); a published server has them in wwwroot instead.
        builder.WebHost.UseStaticWebAssets();
        builder.Services.AddVdiBroker(builder.Configuration);
        Cluster.ClusterHosting.Add(builder);
        var app = builder.Build();
        Api.TrustedProxies.Use(app); // first: everything after sees the browser's address
        app.UseApiErrors();
        // In a cluster, requests bound to a desktop another host runs go there, before anything here serves them.
        if (app.Services.GetService<Cluster.DesktopForwarding>() is { } forwarding)
            app.Use(next => context => forwarding.HandleAsync(context, next));
        app.UseBlazorFrameworkFiles();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapOpenApi();
        app.MapGet("/healthz", () => TypedResults.Ok(new { status = "ok" })).AllowAnonymous();
        app.MapAuthEndpoints();
        app.MapDesktopEndpoints();
        app.MapMigrationEndpoints();
        app.MapIntegrityEndpoints();
        app.MapFaultToleranceEndpoints();
        app.MapHostEndpoints();
        app.MapSessionEndpoints();
        app.MapUserEndpoints();
        app.MapAdminEndpoints();
        app.MapHub<DesktopHub>(DesktopHub.Path);
        MapWebClient(app);
        return app;
    }

    /// <summary>
    /// Every other path is a page of the web client (index.html). Unknown API and hub paths stay
    /// 404 rather than answering with the client's HTML.
    /// </summary>
    private static void MapWebClient(WebApplication app)
    {
        app.MapFallback("/api/{**path}", () => TypedResults.NotFound()).AllowAnonymous();
        app.MapFallback("/hubs/{**path}", () => TypedResults.NotFound()).AllowAnonymous();
        app.MapFallbackToFile("index.html").AllowAnonymous();
    }

    public static IServiceCollection AddVdiBroker(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<StorageOptions>(configuration.GetSection("Vdi:Storage"));
        services.Configure<AdminOptions>(configuration.GetSection("Vdi:Admin"));
        services.Configure<DesktopOptions>(configuration.GetSection("Vdi:Desktops"));
        services.PostConfigure<AdminOptions>(o => o.Password ??= Environment.GetEnvironmentVariable("VDI_ADMIN_PASSWORD"));
        var storage = configuration.GetSection("Vdi:Storage").Get<StorageOptions>() ?? new StorageOptions();
        Directory.CreateDirectory(Path.GetFullPath(storage.DataDirectory));
        services.PostConfigure<DesktopOptions>(o => o.DataDirectory = Path.GetFullPath(storage.DataDirectory));
        var connectionString = storage.ResolveConnectionString();
        if (storage.IsPostgres)
            services.AddDbContext<VdiDbContext, PostgresVdiDbContext>(o => o.UseNpgsql(connectionString));
        else
            services.AddDbContext<VdiDbContext, SqliteVdiDbContext>(o => o.UseSqlite(connectionString));
        // Before every other hosted service: the database is migrated before anything reads it.
        services.AddSingleton<StorageMigrator>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageMigrator>());
        CookieKeys.Add(services, configuration);

        services.AddAuthentication(IdentityConstants.ApplicationScheme).AddIdentityCookies();
        services.AddIdentityCore<IdentityUser>(o => o.User.RequireUniqueEmail = false)
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<VdiDbContext>()
            .AddSignInManager();
        services.ConfigureApplicationCookie(o =>
        {
            o.Cookie.Name = "vdi";
            o.Cookie.SameSite = SameSiteMode.Strict;
            // How long a sign-in lasts (sliding: renewed by requests in its second half); a desktop's hub connection
            // ends with its sign-in (SignInExpiry).
            o.ExpireTimeSpan = configuration.GetSection("Vdi:SignIn").Get<SignInLimits>()?.Lifetime ?? new SignInLimits().Lifetime;
            // The API and the hub answer with status codes; only pages redirect to sign-in.
            o.Events.OnRedirectToLogin = c => ApiOrRedirect(c, StatusCodes.Status401Unauthorized);
            o.Events.OnRedirectToAccessDenied = c => ApiOrRedirect(c, StatusCodes.Status403Forbidden);
        });
        services.Configure<SignInLimits>(configuration.GetSection("Vdi:SignIn"));
        services.AddScoped<UnknownUserPassword>();
        SignInThrottle.AddSignInRateLimits(services);
        services.AddAuthorizationBuilder()
            .AddPolicy(Roles.Admin, p => p.RequireRole(Roles.Admin));
        services.AddOpenApi();
        services.AddProblemDetails();
        // Bind failures throw so UseApiErrors can say which field was wrong.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<AuditLog>();
        services.AddHostedService<AccountBootstrap>();
        services.AddSingleton<DesktopPool>();
        services.Configure<Integrity.IntegrityAuditOptions>(configuration.GetSection("Vdi:Integrity"));
        services.AddSingleton<Integrity.IntegrityAudit>();
        services.AddHostedService(sp => sp.GetRequiredService<Integrity.IntegrityAudit>());
        services.AddSingleton<Desktops.FaultToleranceAudit>();
        services.AddHostedService(sp => sp.GetRequiredService<Desktops.FaultToleranceAudit>());
        services.AddSingleton<DisplayRules>();
        services.AddHostedService(sp => sp.GetRequiredService<DesktopPool>());
        services.Configure<SessionBrokerOptions>(configuration.GetSection("Vdi:Sessions"));
        services.AddSignalR(o => o.MaximumReceiveMessageSize = MaxHubMessageBytes).AddMessagePackProtocol();
        services.AddSingleton<InputStats>();
        services.AddSingleton<ConnectionOwners>();
        services.AddSingleton<DesktopStreams>();
        services.AddSingleton<SignInExpiry>();
        services.AddSingleton<DesktopActivity>();
        services.AddHostedService(sp => sp.GetRequiredService<DesktopActivity>());
        services.AddSingleton<SessionRecords>();
        services.AddHostedService<SessionJanitor>();
        services.AddSingleton(sp =>
        {
            var pool = sp.GetRequiredService<DesktopPool>();
            return new SessionBroker(
                sp.GetRequiredService<IServiceScopeFactory>(),
                id => pool.Get(id)?.Desktop is { } machine ? new MachineDisplayTarget(machine, DisplayRequestTimeout) : null,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<SessionBrokerOptions>>().Value);
        });
        return services;
    }

    /// <summary>
    /// Says in one line, at start-up, which engine desktops run on and why: under <c>Auto</c> the engines are measured
    /// (a fraction of a second, once per process) and the faster one is named with the figures; under <c>Kvm</c>
    /// without a usable KVM, that desktops cannot start and how to fix it.
    /// </summary>
    public static void ReportKvm(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DesktopOptions>>().Value;
        switch (options.Engine)
        {
            case Vmm.Execution.EngineChoice.Software:
                Console.Error.WriteLine("Vdi: desktops run on the software engine (configured)");
                return;
            case Vmm.Execution.EngineChoice.Kvm:
                try
                {
                    KvmSystem.Open(options.KvmDevicePath).Dispose();
                }
                catch (KvmException e)
                {
                    Console.Error.WriteLine($"Vdi: desktops cannot start: {e.Message}");
                }
                return;
            default:
                var selection = Vmm.Execution.EngineCalibration.Select(options.KvmDevicePath);
                Console.Error.WriteLine($"Vdi: desktops run on {selection.Subject} ({selection.Reason})");
                return;
        }
    }

    private static Task ApiOrRedirect(Microsoft.AspNetCore.Authentication.RedirectContext<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api") || context.Request.Path.StartsWithSegments("/hubs"))
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
