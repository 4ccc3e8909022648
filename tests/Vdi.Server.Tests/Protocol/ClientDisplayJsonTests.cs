using System.Text.Json;
using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

/// <summary>
/// Width and height are whole device pixels on the wire too: a fractional value fails
/// deserialization (with any options, the converter is on the property) and
/// <see cref="ProtocolJson.ToValidationError"/> turns that into an error naming the field.
/// </summary>
public class ClientDisplayJsonTests
{
    private static readonly JsonSerializerOptions s_web = new(JsonSerializerDefaults.Web);
    private static readonly Guid s_desktop = Guid.Parse("6f1c1a52-0d5e-4b8e-9a55-3c1b2b8f0a11");

    private static string SessionJson(string width, string height = "1080") =>
        $$$"""{"desktopId":"{{{s_desktop}}}","display":{"width":{{{width}}},"height":{{{height}}},"devicePixelRatio":1.5},"clientName":"laptop"}""";

    public static TheoryData<JsonSerializerOptions> AllOptions => new() { s_web, ProtocolJson.Options };

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Fractional_width_is_rejected_naming_the_field(JsonSerializerOptions options)
    {
        var ex = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<CreateSessionRequest>(SessionJson("1280.5"), options));
        Assert.Equal("$.display.width", ex.Path);

        var error = ProtocolJson.ToValidationError(ex);
        Assert.Equal(new ValidationError("display.width", "display.width must be a whole number of device pixels (was 1280.5)"), error);
    }

    [Fact]
    public void Fractional_height_is_rejected_through_TryDeserialize()
    {
        Assert.False(ProtocolJson.TryDeserialize<CreateSessionRequest>(SessionJson("1280", "720.25"), out var request, out var errors));
        Assert.Null(request);
        Assert.Equal(
            [new ValidationError("display.height", "display.height must be a whole number of device pixels (was 720.25)")],
            errors);
    }

    [Theory]
    [InlineData("1e10", "1e10")]
    [InlineData("-3000000000", "-3000000000")]
    [InlineData("1280.0", "1280.0")]
    [InlineData("true", "a boolean")]
    [InlineData("null", "null")]
    [InlineData("{}", "an object")]
    [InlineData("\"wide\"", "\"wide\"")]
    [InlineData("\"12.5\"", "\"12.5\"")]
    [InlineData("12345678901234567890123456789012345678901234567890", "12345678901234567890123456789012...")]
    public void Width_that_is_not_an_int32_is_rejected(string json, string shown)
    {
        Assert.False(ProtocolJson.TryDeserialize<CreateSessionRequest>(SessionJson(json), out _, out var errors));
        Assert.Equal(
            [new ValidationError("display.width", $"display.width must be a whole number of device pixels (was {shown})")],
            errors);
    }

    [Theory]
    [MemberData(nameof(AllOptions))]
    public void Whole_numbers_and_numeric_strings_are_read(JsonSerializerOptions options)
    {
        // Web defaults read numbers from strings; the pixel converter follows that.
        var request = JsonSerializer.Deserialize<CreateSessionRequest>(SessionJson("\"1280\"", "720"), options);
        Assert.Equal(new CreateSessionRequest(s_desktop, new ClientDisplay(1280, 720, 1.5), "laptop"), request);
    }

    [Fact]
    public void Numeric_strings_are_refused_when_the_options_do_not_allow_them()
    {
        var strict = new JsonSerializerOptions(JsonSerializerDefaults.Web) { NumberHandling = default };
        var ex = Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<ClientDisplay>("""{"width":"1280","height":720}""", strict));
        Assert.Equal(new ValidationError("width", "width must be a whole number of device pixels (was a string)"), ProtocolJson.ToValidationError(ex));
    }

    [Fact]
    public void Display_serializes_with_camel_case_names_and_omits_nothing()
    {
        var json = JsonSerializer.Serialize(new ClientDisplay(2560, 1440, 2, 218, 597, 336, 120), ProtocolJson.Options);
        Assert.Equal("""{"width":2560,"height":1440,"devicePixelRatio":2,"dpi":218,"widthMm":597,"heightMm":336,"refreshHz":120}""", json);
        Assert.Equal(json, JsonSerializer.Serialize(new ClientDisplay(2560, 1440, 2, 218, 597, 336, 120), s_web));
    }

    [Fact]
    public void Missing_fields_read_as_defaults_that_validation_rejects()
    {
        Assert.True(ProtocolJson.TryDeserialize<ClientDisplay>("""{"height":720}""", out var display, out _));
        Assert.Equal(
            ["display.width", "display.devicePixelRatio"],
            ClientDisplay.Validate(display).Select(e => e.Field));
    }

    [Fact]
    public void Wrong_type_elsewhere_names_the_field_with_a_generic_message()
    {
        var json = $$$"""{"desktopId":"{{{s_desktop}}}","display":{"width":1280,"height":720,"devicePixelRatio":"fast"}}""";
        Assert.False(ProtocolJson.TryDeserialize<CreateSessionRequest>(json, out _, out var errors));
        var error = Assert.Single(errors);
        Assert.Equal("display.devicePixelRatio", error.Field);
        Assert.StartsWith("display.devicePixelRatio is malformed JSON or has a value of the wrong type (line 1, position ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{", "$ is malformed JSON or has a value of the wrong type (line 1, position 2)")]
    [InlineData("""{"width":1280,""", "$ is malformed JSON or has a value of the wrong type (line 1, position 14)")]
    [InlineData("""{"width" 1280}""", "$ is malformed JSON or has a value of the wrong type (line 1, position 10)")]
    public void Malformed_json_is_reported_with_its_position(string json, string message)
    {
        Assert.False(ProtocolJson.TryDeserialize<ClientDisplay>(json, out _, out var errors));
        Assert.Equal(new ValidationError("$", message), Assert.Single(errors));
    }

    [Fact]
    public void Null_document_is_a_missing_body()
    {
        Assert.False(ProtocolJson.TryDeserialize<CreateSessionRequest>("null", out _, out var errors));
        Assert.Equal([new ValidationError("$", "the request body is required")], errors);
    }
}
