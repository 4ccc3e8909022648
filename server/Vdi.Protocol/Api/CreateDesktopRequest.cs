using Vdi.Protocol.Internal;

namespace Vdi.Protocol;

/// <summary>Body of <c>POST /api/desktops</c> (admin): a new desktop VM.</summary>
/// <param name="Name">Display name, 1..64 printable characters.</param>
/// <param name="Vcpus">Virtual CPUs, 1..16.</param>
/// <param name="MemoryMiB">Guest memory in MiB, 256..3072.</param>
/// <param name="MaxWidth">Largest display width in device pixels; default 7680.</param>
/// <param name="MaxHeight">Largest display height in device pixels; default 4320.</param>
/// <param name="OwnerUserName">The user the desktop is assigned to; null leaves it unassigned.</param>
/// <param name="Integrity">Guest integrity: off, audit or enforce (<see cref="IntegrityLevels"/>); default enforce.</param>
/// <param name="FaultTolerant">Run as a fault-tolerant pair (needs 1 vCPU); default false.</param>
public sealed record CreateDesktopRequest(
    string Name,
    int Vcpus,
    int MemoryMiB,
    int? MaxWidth = null,
    int? MaxHeight = null,
    string? OwnerUserName = null,
    string? Integrity = null,
    bool FaultTolerant = false)
{
    /// <summary>Checks every field; an empty list means the request is acceptable.</summary>
    /// <param name="request">The request as received; null (an empty JSON body) is reported as missing.</param>
    public static IReadOnlyList<ValidationError> Validate(CreateDesktopRequest? request)
    {
        if (request is null)
            return [new ValidationError(ProtocolJson.RootField, "the request body is required")];
        return request.ValidateFields();
    }

    private List<ValidationError> ValidateFields()
    {
        var errors = new List<ValidationError>();
        if (TextRules.CheckPrintable("name", Name, DesktopLimits.MaxNameLength) is { } nameError)
            errors.Add(nameError);

        CheckRange(errors, "vcpus", Vcpus, DesktopLimits.MinVcpus, DesktopLimits.MaxVcpus, "");
        CheckRange(errors, "memoryMiB", MemoryMiB, DesktopLimits.MinMemoryMiB, DesktopLimits.MaxMemoryMiB, " MiB");
        if (MaxWidth is { } width)
            CheckRange(errors, "maxWidth", width, DisplayLimits.MinWidth, DisplayLimits.MaxWidth, " device pixels when given");
        if (MaxHeight is { } height)
            CheckRange(errors, "maxHeight", height, DisplayLimits.MinHeight, DisplayLimits.MaxHeight, " device pixels when given");

        if (OwnerUserName is not null
            && TextRules.CheckPrintable("ownerUserName", OwnerUserName, DesktopLimits.MaxUserNameLength, " when given") is { } ownerError)
        {
            errors.Add(ownerError);
        }
        if (Integrity is not null && IntegrityLevels.Check("integrity", Integrity) is { } integrityError)
            errors.Add(integrityError);
        if (FaultTolerant && Vcpus != 1)
            errors.Add(new ValidationError("faultTolerant", $"a fault-tolerant desktop has 1 vCPU (a replay is exact only there), not {Vcpus}"));
        return errors;
    }

    private static void CheckRange(List<ValidationError> errors, string field, int value, int min, int max, string unit)
    {
        if (value < min || value > max)
            errors.Add(new ValidationError(field, Invariant.Format($"{field} must be from {min} to {max}{unit} (was {value})")));
    }
}
