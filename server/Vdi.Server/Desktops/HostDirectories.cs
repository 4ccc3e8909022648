namespace Vdi.Server.Desktops;

/// <summary>The host processes' folders: one per desktop, mode 0700, outside the broker's data folder.</summary>
internal static class HostDirectories
{
    public static string Root(DesktopOptions options)
    {
        if (options.HostDirectory is { Length: > 0 } configured)
            return Path.GetFullPath(configured);
        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return runtime is { Length: > 0 } && Directory.Exists(runtime)
            ? Path.Combine(runtime, "vdi-hosts")
            : Path.Combine(Path.GetTempPath(), $"vdi-hosts-{Environment.UserName}");
    }

    public static string Create(DesktopOptions options, Guid id)
    {
        var root = Root(options);
        if (options.DataDirectory is { Length: > 0 } data && IsInside(root, Path.GetFullPath(data)))
            throw new InvalidOperationException($"the desktops' host folder {root} lies inside the data folder {data}: set Vdi:Desktops:HostDirectory elsewhere");
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("desktops in host processes need Linux");
        Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = PathOf(options, id);
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true); // a previous host's leftovers (its socket)
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    /// <summary>The folder of the desktop <paramref name="id"/>'s host (it may not exist).</summary>
    public static string PathOf(DesktopOptions options, Guid id) => Path.Combine(Root(options), id.ToString("N"));

    public static void Remove(DesktopOptions options, Guid id)
    {
        if (options.Isolation != DesktopIsolation.Process)
            return;
        Delete(PathOf(options, id));
    }

    /// <summary>Deletes a host folder and what it holds (its socket, its record); quietly, if it is already gone.</summary>
    public static void Delete(string path)
    {
        try
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or lies below it.</summary>
    public static bool IsInside(string path, string folder)
    {
        var relative = Path.GetRelativePath(folder, path);
        return relative == "." || (!relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative));
    }
}
