using Vdi.Protocol;

namespace Vdi.Server.Api;

/// <summary>RFC 7807 answers whose messages name the field and say why.</summary>
public static class Problems
{
    public static IResult Validation(IReadOnlyList<ValidationError> errors) =>
        TypedResults.ValidationProblem(errors.ToProblemErrors(), detail: string.Join(" ", errors.Select(e => e.Message)));

    public static IResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static IResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");
}
