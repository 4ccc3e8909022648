namespace Vdi.Server.Desktops;

public enum DesktopState
{
    Stopped,
    Starting,
    Running,
    Crashed,

    /// <summary>Could not start (for example no usable /dev/kvm); the reason says why.</summary>
    Failed,
}
