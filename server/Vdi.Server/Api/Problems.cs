using Vdi.Protocol;

namespace Vdi.Server.Api;

/// <summary>RFC 7807 answers whose messages name the field and say why.</summary>
public static class Problems
{
    public static IResult Validation(IReadOnlyList<ValidationError> errors) =>
        TypedResults.ValidationProblem(errors.ToProblemErrors(), detail: string.Join(" ", errors.Select(e => e.Message)));

    public static IResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    /// <summary>429: the user has as many live sessions as allowed; the detail names the limit and how to free one.</summary>
    public static IResult TooManySessions(int live, int limit) =>
        TypedResults.Problem(
            $"you have {live} live sessions and the limit is {limit} per user (Vdi:Sessions:MaxLiveSessionsPerUser); close a session or wait for unused ones to expire",
            statusCode: StatusCodes.Status429TooManyRequests, title: "Too many sessions",
            extensions: new Dictionary<string, object?> { ["limit"] = limit, ["live"] = live });

    public static IResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");
}
