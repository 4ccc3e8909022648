using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Vdi.Protocol;
using Vdi.Server.Sessions;
using Vdi.Server.Storage;
using Vdi.Vmm.Devices.Display;

namespace Vdi.Server.Desktops;

/// <summary>
/// The one check of a client's display, for REST (<c>POST /api/sessions</c>) and the hub (<c>Connect</c>,
/// <c>ChangeDisplay</c>) alike: the wire rules (<see cref="ClientDisplay.Validate"/>), then the display
/// device's own rules (<see cref="DisplayProperties.Check"/>) on the properties the device would get —
/// the DPI derived from the physical size included — against the desktop's largest display. A refusal
/// names the client's field, so nothing the device would refuse gets past the broker.
/// </summary>
public sealed class DisplayRules(IServiceScopeFactory scopes, DesktopPool pool)
{
    /// <summary>The errors for <paramref name="display"/> on a desktop whose largest display is <paramref name="maxWidth"/> x <paramref name="maxHeight"/>; empty when acceptable.</summary>
    public static IReadOnlyList<ValidationError> Validate(ClientDisplay? display, int maxWidth, int maxHeight)
    {
        var errors = ClientDisplay.Validate(display, maxWidth, maxHeight);
        if (errors.Count > 0 || display is null)
            return errors;
        var properties = SessionBroker.ToProperties(display);
        if (DisplayProperties.Check(properties, maxWidth, maxHeight) is not { } refusal)
            return [];
        return [Name(refusal, display, properties)];
    }

    /// <summary>Why the controlling display of desktop <paramref name="desktopId"/> cannot be <paramref name="display"/>, or null.</summary>
    public string? Refusal(Guid? desktopId, ClientDisplay? display)
    {
        var host = desktopId is { } id ? pool.Get(id) : null;
        return Join(Validate(display, host?.MaxWidth ?? Vmm.Devices.Display.DisplayLimits.DefaultMaxWidth, host?.MaxHeight ?? Vmm.Devices.Display.DisplayLimits.DefaultMaxHeight));
    }

    /// <summary>
    /// Why a hub <c>Connect</c> with <paramref name="token"/> cannot use <paramref name="display"/>, or null; checked
    /// against the token's desktop before the token is redeemed, so a refused display does not use it up.
    /// </summary>
    public async Task<string?> RefusalForTokenAsync(string? token, ClientDisplay? display, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VdiDbContext>();
        var hash = SessionIssuer.HashToken(token ?? "");
        var desktopId = await db.Sessions.AsNoTracking().Where(s => s.ConnectTokenHash == hash)
            .Select(s => (Guid?)s.DesktopId).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        var desktop = desktopId is { } id
            ? await db.Desktops.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, cancellationToken).ConfigureAwait(false)
            : null;
        return Join(Validate(display, desktop?.MaxWidth ?? Vmm.Devices.Display.DisplayLimits.DefaultMaxWidth, desktop?.MaxHeight ?? Vmm.Devices.Display.DisplayLimits.DefaultMaxHeight));
    }

    private static string? Join(IReadOnlyList<ValidationError> errors) =>
        errors.Count == 0 ? null : string.Join(" ", errors.Select(e => e.Message));

    /// <summary>The device's refusal, said of the client's field it comes from.</summary>
    private static ValidationError Name(DisplayPropertyError refusal, ClientDisplay display, DisplayProperties properties)
    {
        var field = refusal.Property switch
        {
            nameof(DisplayProperties.Width) => "width",
            nameof(DisplayProperties.Height) => "height",
            nameof(DisplayProperties.RefreshHz) => "refreshHz",
            nameof(DisplayProperties.WidthMm) => "widthMm",
            nameof(DisplayProperties.HeightMm) => "heightMm",
            _ when display.Dpi is not null => "dpi",
            _ when display.WidthMm is not null => "widthMm",
            _ => "devicePixelRatio",
        };
        var path = ClientDisplay.FieldName + "." + field;
        var message = refusal.Property == nameof(DisplayProperties.Dpi) && field == "widthMm"
            ? string.Create(CultureInfo.InvariantCulture,
                $"{path} of {display.WidthMm} mm at {display.Width} pixels gives {properties.Dpi} dpi; the display device takes {DisplayProperties.MinDpi} to {DisplayProperties.MaxDpi} dpi")
            : $"{path} is refused by the display device: {refusal.Message}";
        return new ValidationError(path, message);
    }
}
