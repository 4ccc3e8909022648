namespace Vdi.Protocol;

/// <summary>One rejected field of a request or message.</summary>
/// <param name="Field">The JSON path of the field in camelCase, e.g. <c>display.width</c>.</param>
/// <param name="Message">A sentence that names the field and says why it was rejected.</param>
public sealed record ValidationError(string Field, string Message);

/// <summary>Shapes validation errors for problem details responses.</summary>
public static class ValidationErrorExtensions
{
    /// <summary>
    /// Groups messages by field, the shape of <c>ValidationProblemDetails.Errors</c>
    /// (pass the result to <c>Results.ValidationProblem</c>).
    /// </summary>
    public static Dictionary<string, string[]> ToProblemErrors(this IEnumerable<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors
            .GroupBy(e => e.Field, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal);
    }
}
