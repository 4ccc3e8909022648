using Microsoft.AspNetCore.Identity;
using Vdi.Protocol;

namespace Vdi.Server.Api;

/// <summary>Cookie sign-in for browsers and API callers alike; signing out ends the user's sessions (<c>signed-out</c>).</summary>
public static class AuthEndpoints
{
    public static void MapAuthEndpoints(this IEndpointRouteBuilder app)
    {
        var auth = app.MapGroup("/api/auth").WithTags("auth");
        auth.MapPost("/sign-in", async Task<IResult> (SignInRequest request, SignInManager<IdentityUser> signIn, UserManager<IdentityUser> users) =>
        {
            if (string.IsNullOrWhiteSpace(request.UserName) || string.IsNullOrEmpty(request.Password))
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["userName"] = ["userName and password are required"] });
            var user = await users.FindByNameAsync(request.UserName);
            if (user is null)
                return TypedResults.Unauthorized();
            var result = await signIn.PasswordSignInAsync(user, request.Password, isPersistent: false, lockoutOnFailure: true);
            if (!result.Succeeded)
                return TypedResults.Unauthorized();
            return TypedResults.Ok(new SignedInUser(user.UserName!, [.. await users.GetRolesAsync(user)]));
        }).AllowAnonymous();
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
}
