using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Vdi.Protocol.Internal;

namespace Vdi.Protocol;

/// <summary>
/// JSON for the protocol types: the web defaults (camelCase, numbers from strings) that ASP.NET
/// Core and SignalR's JSON protocol use, and the translation of a failed read into a
/// <see cref="ValidationError"/> that names the field, so a fractional <c>display.width</c> is
/// reported like any other invalid field.
/// </summary>
public static class ProtocolJson
{
    /// <summary>The field name used for errors about the document as a whole.</summary>
    public const string RootField = "$";

    /// <summary>Read-only web-default options backed by <see cref="ProtocolJsonContext"/> (no reflection, trim safe).</summary>
    public static JsonSerializerOptions Options => ProtocolJsonContext.Default.Options;

    /// <summary>
    /// Deserializes <paramref name="json"/>; on malformed JSON or a value of the wrong kind returns
    /// false with one error naming the field. A JSON <c>null</c> document is reported as a missing body.
    /// Rules beyond the JSON shape are checked by each type's <c>Validate</c>.
    /// </summary>
    /// <typeparam name="T">A protocol type (one listed in <see cref="ProtocolJsonContext"/>).</typeparam>
    public static bool TryDeserialize<T>(string json, [NotNullWhen(true)] out T? value, out IReadOnlyList<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(json);
        var typeInfo = (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));
        try
        {
            value = JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException ex)
        {
            value = default;
            errors = [ToValidationError(ex)];
            return false;
        }

        if (value is null)
        {
            errors = [new ValidationError(RootField, "the request body is required")];
            return false;
        }
        errors = [];
        return true;
    }

    /// <summary>
    /// Turns a deserialization failure into an error for the field it happened at:
    /// <c>$.display.width</c> becomes <c>display.width</c>. Use it where the framework deserializes
    /// (a caught <c>BadHttpRequestException</c>'s inner <see cref="JsonException"/>).
    /// </summary>
    public static ValidationError ToValidationError(JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var field = FieldFromPath(exception.Path);
        if (exception is FieldJsonException rule)
            return new ValidationError(field, Invariant.Format($"{field} {rule.Requirement} (was {rule.Value})"));

        var where = exception.LineNumber is { } line && exception.BytePositionInLine is { } position
            ? Invariant.Format($" (line {line + 1}, position {position + 1})")
            : "";
        return new ValidationError(field, $"{field} is malformed JSON or has a value of the wrong type{where}");
    }

    private static string FieldFromPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == RootField)
            return RootField;
        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;
    }
}
