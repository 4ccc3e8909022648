using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.DataProtection;

namespace Vdi.Server.Storage;

/// <summary>
/// The keys that protect sign-in cookies: kept in the database (table DataProtectionKeys), under one application name,
/// so every host sharing the database reads every host's cookies. Where a certificate is configured
/// (<c>Vdi:DataProtection:CertificatePath</c>, a PKCS#12 file, and <c>…:CertificatePassword</c>), each key is
/// encrypted with it before it is stored; otherwise keys are stored as plain XML, readable by whoever reads the
/// database.
/// </summary>
public static class CookieKeys
{
    public const string ApplicationName = "Vdi";

    public static void Add(IServiceCollection services, IConfiguration configuration)
    {
        var builder = services.AddDataProtection()
            .SetApplicationName(ApplicationName)
            .PersistKeysToDbContext<VdiDbContext>();
        var section = configuration.GetSection("Vdi:DataProtection");
        if (section["CertificatePath"] is not { Length: > 0 } path)
            return;
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(path, section["CertificatePassword"], X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new StorageException($"cannot load Vdi:DataProtection:CertificatePath '{path}': {e.Message.ReplaceLineEndings(" ")}; give a PKCS#12 file with its private key (and Vdi:DataProtection:CertificatePassword)", e);
        }
        if (!certificate.HasPrivateKey)
            throw new StorageException($"Vdi:DataProtection:CertificatePath '{path}' holds no private key; the keys it encrypts could not be read back");
        // Decrypting does not look in a certificate store: the configured certificate is given directly.
        builder.ProtectKeysWithCertificate(certificate).UnprotectKeysWithAnyCertificate(certificate);
    }
}
