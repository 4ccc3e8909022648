using System.Text.Json;

namespace Vdi.Protocol.Internal;

/// <summary>
/// Thrown by the protocol's converters for a value of the right JSON kind that breaks a rule
/// (a fractional pixel count). The serializer fills in <see cref="JsonException.Path"/> and rethrows
/// it unchanged, so <see cref="ProtocolJson.ToValidationError"/> can name the field and reuse the rule.
/// </summary>
internal sealed class FieldJsonException : JsonException
{
    public FieldJsonException(string requirement, string value)
        : base($"The value {requirement} (was {value}).")
    {
        Requirement = requirement;
        Value = value;
    }

    /// <summary>What the field must be, phrased to follow the field name: "must be a whole number of ...".</summary>
    public string Requirement { get; }

    /// <summary>The offending JSON value as text.</summary>
    public string Value { get; }
}
