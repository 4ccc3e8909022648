using Vdi.Protocol.Internal;

namespace Vdi.Protocol;

/// <summary>Body of <c>POST /api/sessions</c>: connect the caller to a desktop with this display.</summary>
/// <param name="DesktopId">The desktop to connect to.</param>
/// <param name="Display">The browser's display; the desktop's mode is set from it.</param>
/// <param name="ClientName">A label for the device (shown to admins and in take-over notices); optional.</param>
public sealed record CreateSessionRequest(Guid DesktopId, ClientDisplay Display, string? ClientName = null)
{
    /// <summary>Checks every field, the display against the target desktop's limits; an empty list means acceptable.</summary>
    /// <param name="request">The request as received; null (an empty JSON body) is reported as missing.</param>
    /// <param name="maxWidth">The desktop's largest display width in device pixels.</param>
    /// <param name="maxHeight">The desktop's largest display height in device pixels.</param>
    public static IReadOnlyList<ValidationError> Validate(
        CreateSessionRequest? request, int maxWidth = DisplayLimits.MaxWidth, int maxHeight = DisplayLimits.MaxHeight)
    {
        if (request is null)
            return [new ValidationError(ProtocolJson.RootField, "the request body is required")];
        return request.ValidateFields(maxWidth, maxHeight);
    }

    private List<ValidationError> ValidateFields(int maxWidth, int maxHeight)
    {
        var errors = new List<ValidationError>();
        if (DesktopId == Guid.Empty)
            errors.Add(new ValidationError("desktopId", "desktopId is required"));

        // Display is null when the JSON body left it out.
        errors.AddRange(ClientDisplay.Validate(Display, maxWidth, maxHeight));

        if (ClientName is not null
            && TextRules.CheckPrintable("clientName", ClientName, DesktopLimits.MaxClientNameLength, " when given") is { } nameError)
        {
            errors.Add(nameError);
        }
        return errors;
    }
}
