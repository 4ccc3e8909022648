namespace Vdi.Protocol;

/// <summary>The ranges a new desktop's settings are checked against.</summary>
public static class DesktopLimits
{
    public const int MaxNameLength = 64;
    public const int MinVcpus = 1;
    public const int MaxVcpus = 16;
    public const int MinMemoryMiB = 256;

    /// <summary>Below the 3 GiB PCI hole, where the VMM places device MMIO.</summary>
    public const int MaxMemoryMiB = 3072;

    public const int MaxUserNameLength = 64;
    public const int MaxClientNameLength = 64;
}
