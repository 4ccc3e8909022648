using System.Reflection;

namespace Vdi.Vmm.Sandbox;

/// <summary>
/// Work done before the filter goes on, so that what the runtime does only once happens while everything is still
/// reachable: every assembly the app references is loaded, and SkiaSharp's native library is loaded and initialised
/// (its first use scans the system's fonts) by encoding a one-pixel PNG; OpenSSL by one SHA-256. The jail's read-only binds of the runtime
/// and app folders still cover any later lazy load.
/// </summary>
public static class RuntimeWarmup
{
    /// <summary>Runs the warm-up; returns how many assemblies are loaded.</summary>
    public static int Run()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Assembly>();
        pending.Push(Assembly.GetEntryAssembly() ?? typeof(RuntimeWarmup).Assembly);
        while (pending.TryPop(out var assembly))
        {
            foreach (var name in assembly.GetReferencedAssemblies())
            {
                if (!seen.Add(name.FullName))
                    continue;
                try
                {
                    pending.Push(Assembly.Load(name));
                }
                catch (FileNotFoundException)
                {
                    // A reference the app never uses (facades of other platforms): nothing to load later either.
                }
            }
        }
        using (var bitmap = new SkiaSharp.SKBitmap(1, 1))
        using (var data = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100))
        {
            _ = data.Size;
        }
        // OpenSSL is found and loaded at the first hash (a migration's machine identity is the image's SHA-256); in
        // the jail its library is out of reach and the runtime aborts ("No usable version of libssl was found").
        _ = System.Security.Cryptography.SHA256.HashData([0]);
        return AppDomain.CurrentDomain.GetAssemblies().Length;
    }
}
