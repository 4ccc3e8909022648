using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Vdi.Server.Accounts;

namespace Vdi.Server.Api;

/// <summary>
/// Rate limits on sign-in instead of an account lockout an attacker could trigger: attempts per client
/// address (ASP.NET Core's rate limiting middleware, policy <see cref="Policy"/>) and failed attempts per
/// user name (checked by the endpoint, which knows the name). A refusal is a 429 problem that says which
/// limit was reached and, in Retry-After, when to try again.
/// </summary>
public sealed class SignInThrottle : IDisposable
{
    public const string Policy = "sign-in";

    private readonly PartitionedRateLimiter<string> _failures;

    public SignInThrottle(IOptions<SignInLimits> options)
    {
        var o = options.Value;
        _failures = PartitionedRateLimiter.Create<string, string>(name => RateLimitPartition.GetFixedWindowLimiter(name, _ => Window(o.FailuresPerUserName, o.UserNameWindow)));
    }

    /// <summary>The rate limiter with the per-address policy and its 429 answer.</summary>
    public static IServiceCollection AddSignInRateLimits(IServiceCollection services)
    {
        services.AddSingleton<SignInThrottle>();
        return services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(Policy, context =>
            {
                var o = context.RequestServices.GetRequiredService<IOptions<SignInLimits>>().Value;
                var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
                return RateLimitPartition.GetFixedWindowLimiter(address, _ => Window(o.AttemptsPerAddress, o.AddressWindow));
            });
            limiter.OnRejected = (rejected, _) =>
            {
                rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter);
                return new ValueTask(TooMany("from this address", retryAfter).ExecuteAsync(rejected.HttpContext));
            };
        });
    }

    /// <summary>A 429 answer if <paramref name="userName"/> has used up its failed attempts, else null.</summary>
    public IResult? Refusal(string userName)
    {
        using var lease = _failures.AttemptAcquire(Key(userName), 0);
        if (lease.IsAcquired)
            return null;
        lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter);
        return TooMany("for this user name", retryAfter);
    }

    /// <summary>Counts a failed attempt for <paramref name="userName"/> (whether or not such a user exists).</summary>
    public void Failed(string userName) => _failures.AttemptAcquire(Key(userName)).Dispose();

    public void Dispose() => _failures.Dispose();

    private static string Key(string userName) => userName.Trim().ToUpperInvariant();

    private static FixedWindowRateLimiterOptions Window(int permits, TimeSpan window) =>
        new() { PermitLimit = Math.Max(1, permits), Window = window, QueueLimit = 0, AutoReplenishment = true };

    private static RetryAfterResult TooMany(string scope, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        return new RetryAfterResult(seconds, TypedResults.Problem(
            string.Create(CultureInfo.InvariantCulture, $"too many sign-in attempts {scope}; try again in {seconds} s"),
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many sign-in attempts"));
    }

    /// <summary>A problem answer with a Retry-After header in seconds.</summary>
    private sealed class RetryAfterResult(int seconds, IResult problem) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return problem.ExecuteAsync(httpContext);
        }
    }
}
