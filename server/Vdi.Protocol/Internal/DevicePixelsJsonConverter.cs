using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vdi.Protocol.Internal;

/// <summary>
/// Reads a pixel count that must be a whole number. The built-in <see cref="int"/> converter
/// rejects <c>1280.5</c> too, but with a message about <c>System.Int32</c>; this one says what the
/// field needs. Range checks stay in <see cref="ClientDisplay.Validate"/>, which knows the desktop's limits.
/// </summary>
internal sealed class DevicePixelsJsonConverter : JsonConverter<int>
{
    public const string Requirement = "must be a whole number of device pixels";

    private const int MaxEchoedLength = 32;

    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                if (reader.TryGetInt32(out var value))
                    return value;
                throw new FieldJsonException(Requirement, RawText(ref reader));

            // Web defaults read numbers from strings; honour that here as the built-in converter would.
            case JsonTokenType.String when (options.NumberHandling & JsonNumberHandling.AllowReadingFromString) != 0:
                var text = reader.GetString();
                if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                    return parsed;
                throw new FieldJsonException(Requirement, Echo("\"" + text + "\""));

            default:
                throw new FieldJsonException(Requirement, Describe(reader.TokenType));
        }
    }

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumberValue(value);
    }

    private static string RawText(ref Utf8JsonReader reader)
    {
        var bytes = reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan.ToArray();
        return Echo(Encoding.UTF8.GetString(bytes));
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.Null => "null",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.String => "a string",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => "not a number",
    };

    // Keeps messages short when a client sends a number with thousands of digits.
    private static string Echo(string text) =>
        text.Length <= MaxEchoedLength ? text : string.Concat(text.AsSpan(0, MaxEchoedLength), "...");
}
