using Vdi.Protocol;

namespace Vdi.Server.Tests.Protocol;

public class CreateSessionRequestTests
{
    private static readonly CreateSessionRequest s_valid = new(Guid.NewGuid(), new ClientDisplay(1920, 1080, 1), "work laptop");

    [Fact]
    public void Valid_request_has_no_errors()
    {
        Assert.Empty(CreateSessionRequest.Validate(s_valid));
        Assert.Empty(CreateSessionRequest.Validate(s_valid with { ClientName = null }));
    }

    [Fact]
    public void Missing_body_is_reported()
    {
        Assert.Equal([new ValidationError("$", "the request body is required")], CreateSessionRequest.Validate(null));
    }

    [Fact]
    public void Empty_desktop_id_is_rejected()
    {
        Assert.Equal(new ValidationError("desktopId", "desktopId is required"),
            Assert.Single(CreateSessionRequest.Validate(s_valid with { DesktopId = Guid.Empty })));
    }

    [Fact]
    public void Missing_display_is_rejected()
    {
        Assert.Equal(new ValidationError("display", "display is required"),
            Assert.Single(CreateSessionRequest.Validate(s_valid with { Display = null! })));
    }

    [Fact]
    public void Display_is_checked_against_the_desktop_limits()
    {
        Assert.Empty(CreateSessionRequest.Validate(s_valid, maxWidth: 1920, maxHeight: 1080));
        var error = Assert.Single(CreateSessionRequest.Validate(s_valid, maxWidth: 1280, maxHeight: 1080));
        Assert.Equal(new ValidationError("display.width", "display.width must be a whole number of device pixels from 320 to 1280 (was 1920)"), error);
    }

    [Theory]
    [InlineData("", "was empty")]
    [InlineData("tab\there", "character 4 is U+0009")]
    public void Client_name_must_be_printable_when_given(string name, string reason)
    {
        Assert.Equal(new ValidationError("clientName", $"clientName must be 1 to 64 printable characters when given ({reason})"),
            Assert.Single(CreateSessionRequest.Validate(s_valid with { ClientName = name })));
    }

    [Fact]
    public void Problem_errors_group_messages_by_field()
    {
        ValidationError[] errors =
        [
            new("display.width", "first"),
            new("display.height", "second"),
            new("display.width", "third"),
        ];
        var grouped = errors.ToProblemErrors();
        Assert.Equal(["first", "third"], grouped["display.width"]);
        Assert.Equal(["second"], grouped["display.height"]);
    }
}
