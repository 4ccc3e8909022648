using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public class CreateDesktopRequestTests
{
    private static readonly CreateDesktopRequest s_valid = new("Dev desktop", 2, 1024, 2560, 1440, "alice");

    [Fact]
    public void Valid_request_has_no_errors()
    {
        Assert.Empty(CreateDesktopRequest.Validate(s_valid));
        Assert.Empty(CreateDesktopRequest.Validate(new CreateDesktopRequest("x", 1, 256)));
        Assert.Empty(CreateDesktopRequest.Validate(new CreateDesktopRequest(new string('n', 64), 16, 3072, 7680, 4320)));
        Assert.Empty(CreateDesktopRequest.Validate(s_valid with { Name = "Bürodesktop 🖥️ 日本" }));
    }

    [Theory]
    [InlineData("", "was empty")]
    [InlineData(" padded", "starts or ends with white space")]
    [InlineData("padded\t", "starts or ends with white space")]
    [InlineData("two\nlines", "character 4 is U+000A")]
    [InlineData("bell\u0007", "character 5 is U+0007")]
    [InlineData("evil\u202Etxt.exe", "character 5 is U+202E")]
    [InlineData("zero\u200Bwidth", "character 5 is U+200B")]
    public void Name_must_be_printable(string name, string reason)
    {
        var error = Assert.Single(CreateDesktopRequest.Validate(s_valid with { Name = name }));
        Assert.Equal(new ValidationError("name", $"name must be 1 to 64 printable characters ({reason})"), error);
    }

    [Fact]
    public void Unpaired_surrogates_are_not_printable()
    {
        // Not a theory: xunit's data serialization would replace a lone surrogate with U+FFFD.
        Assert.Equal("name must be 1 to 64 printable characters (character 5 is U+D83D)",
            Assert.Single(CreateDesktopRequest.Validate(s_valid with { Name = "half\uD83D" })).Message);
        Assert.Equal("name must be 1 to 64 printable characters (character 1 is U+DE00)",
            Assert.Single(CreateDesktopRequest.Validate(s_valid with { Name = "\uDE00half" })).Message);
        Assert.Empty(CreateDesktopRequest.Validate(s_valid with { Name = "pair \uD83D\uDE00" }));
    }

    [Fact]
    public void Name_longer_than_64_characters_is_rejected()
    {
        var error = Assert.Single(CreateDesktopRequest.Validate(s_valid with { Name = new string('n', 65) }));
        Assert.Equal(new ValidationError("name", "name must be 1 to 64 printable characters (was 65 characters)"), error);
    }

    [Fact]
    public void Null_name_is_reported_as_empty()
    {
        var error = Assert.Single(CreateDesktopRequest.Validate(s_valid with { Name = null! }));
        Assert.Equal("name must be 1 to 64 printable characters (was empty)", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(17)]
    public void Vcpus_must_be_1_to_16(int vcpus)
    {
        Assert.Equal(new ValidationError("vcpus", $"vcpus must be from 1 to 16 (was {vcpus})"),
            Assert.Single(CreateDesktopRequest.Validate(s_valid with { Vcpus = vcpus })));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(255)]
    [InlineData(3073)]
    [InlineData(int.MaxValue)]
    public void Memory_must_be_256_to_3072_MiB(int memory)
    {
        Assert.Equal(new ValidationError("memoryMiB", $"memoryMiB must be from 256 to 3072 MiB (was {memory})"),
            Assert.Single(CreateDesktopRequest.Validate(s_valid with { MemoryMiB = memory })));
    }

    [Theory]
    [InlineData(319, 1080, "maxWidth", "maxWidth must be from 320 to 7680 device pixels when given (was 319)")]
    [InlineData(7681, 1080, "maxWidth", "maxWidth must be from 320 to 7680 device pixels when given (was 7681)")]
    [InlineData(1920, 199, "maxHeight", "maxHeight must be from 200 to 4320 device pixels when given (was 199)")]
    [InlineData(1920, 4321, "maxHeight", "maxHeight must be from 200 to 4320 device pixels when given (was 4321)")]
    [InlineData(1920, 0, "maxHeight", "maxHeight must be from 200 to 4320 device pixels when given (was 0)")]
    public void Display_limits_must_be_within_the_device_range(int maxWidth, int maxHeight, string field, string message)
    {
        Assert.Equal(new ValidationError(field, message),
            Assert.Single(CreateDesktopRequest.Validate(s_valid with { MaxWidth = maxWidth, MaxHeight = maxHeight })));
    }

    [Fact]
    public void Owner_is_optional_but_must_be_printable_when_given()
    {
        Assert.Empty(CreateDesktopRequest.Validate(s_valid with { OwnerUserName = null }));
        Assert.Equal(new ValidationError("ownerUserName", "ownerUserName must be 1 to 64 printable characters when given (was empty)"),
            Assert.Single(CreateDesktopRequest.Validate(s_valid with { OwnerUserName = "" })));
    }

    [Fact]
    public void Missing_body_is_reported()
    {
        Assert.Equal([new ValidationError("$", "the request body is required")], CreateDesktopRequest.Validate(null));
    }

    [Fact]
    public void Every_bad_field_is_reported()
    {
        var errors = CreateDesktopRequest.Validate(new CreateDesktopRequest("", 0, 0, 0, 0, "\0"));
        Assert.Equal(["name", "vcpus", "memoryMiB", "maxWidth", "maxHeight", "ownerUserName"], errors.Select(e => e.Field));
        Assert.Equal(["name", "vcpus", "memoryMiB", "maxWidth", "maxHeight", "ownerUserName"], errors.ToProblemErrors().Keys);
    }
}
