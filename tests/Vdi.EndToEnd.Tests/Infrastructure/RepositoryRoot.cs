namespace Vdi.EndToEnd.Tests.Infrastructure;

/// <summary>The checkout the tests run from: the nearest folder above the test binaries that holds Vdi.sln.</summary>
public static class RepositoryRoot
{
    private static readonly Lazy<string> s_path = new(Find);

    public static string Path => s_path.Value;

    public static string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Vdi.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Vdi.sln above {AppContext.BaseDirectory}");
    }
}
