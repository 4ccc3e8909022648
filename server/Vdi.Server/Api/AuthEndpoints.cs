using Microsoft.AspNetCore.Identity;
using Vdi.Protocol;
using Vdi.Server.Accounts;

namespace Vdi.Server.Api;

/// <summary>
/// Cookie sign-in for browsers and API callers alike. Attempts are rate limited per client address and
/// failures per user name (<see cref="SignInThrottle"/>); there is no account lockout. An unknown user
/// name costs the same password check as a known one (<see cref="UnknownUserPassword"/>). Signing out ends the
/// user's sessions (<c>signed-out</c>).
/// </summary>
public static class AuthEndpoints
{
    public static void MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/auth").WithTags("auth");
        auth.MapPost("/sign-in", SignInAsync).AllowAnonymous().RequireRateLimiting(SignInThrottle.Policy);
        auth.MapPost("/sign-out", async (SignInManager<IdentityUser> signIn, System.Security.Claims.ClaimsPrincipal user, Sessions.SessionBroker broker) =>
        {
            await signIn.SignOutAsync();
            // Signing out ends the user's sessions: their viewers are told and closed, waiting ones end too.
            await broker.EndUserAsync(Caller.From(user).UserId, SessionEndReasons.SignedOut, "You signed out.");
            return TypedResults.NoContent();
        }).RequireAuthorization();
        auth.MapGet("/me", async Task<IResult> (System.Security.Claims.ClaimsPrincipal principal, UserManager<IdentityUser> users) =>
        {
            var user = await users.GetUserAsync(principal);
            return user is null ? TypedResults.Unauthorized() : TypedResults.Ok(new SignedInUser(user.UserName!, [.. await users.GetRolesAsync(user)]));
        }).RequireAuthorization();
    }

    /// <summary>The same answer whether the user is unknown or the password wrong.</summary>
    private static IResult WrongCredentials =>
        TypedResults.Problem("the user name or the password is wrong", statusCode: StatusCodes.Status401Unauthorized, title: "Sign-in failed");

    private static async Task<IResult> SignInAsync(SignInRequest request, SignInManager<IdentityUser> signIn, UserManager<IdentityUser> users, SignInThrottle throttle, UnknownUserPassword unknown)
    {
        if (string.IsNullOrWhiteSpace(request.UserName) || string.IsNullOrEmpty(request.Password))
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["userName"] = ["userName and password are required"] });
        if (throttle.Refusal(request.UserName) is { } tooMany)
            return tooMany;
        var user = await users.FindByNameAsync(request.UserName);
        if (user is null)
        {
            unknown.Verify(request.Password);
            throttle.Failed(request.UserName);
            return WrongCredentials;
        }
        // No lockout: an attacker's wrong passwords must not lock the account's owner out.
        var result = await signIn.PasswordSignInAsync(user, request.Password, isPersistent: false, lockoutOnFailure: false);
        if (!result.Succeeded)
        {
            throttle.Failed(request.UserName);
            return WrongCredentials;
        }
        return TypedResults.Ok(new SignedInUser(user.UserName!, [.. await users.GetRolesAsync(user)]));
    }
}
