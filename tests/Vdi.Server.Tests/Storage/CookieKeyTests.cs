using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using Vdi.Server.Storage;
using Vdi.Server.Tests.Api;

namespace Vdi.Server.Tests.Storage;

/// <summary>Cookie keys live in the database, encrypted with a certificate where one is configured.</summary>
public sealed class CookieKeyTests
{
    [Fact]
    public async Task Keys_encrypted_with_the_configured_certificate_are_read_back_only_with_it()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"vdi-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var certificate = Path.Combine(folder, "keys.pfx");
        using (var rsa = RSA.Create(2048))
        {
            var request = new CertificateRequest("CN=Vdi cookie keys", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
            await File.WriteAllBytesAsync(certificate, made.Export(X509ContentType.Pfx, "pfx-pa55"));
        }
        var withCertificate = new Dictionary<string, string?> { ["Vdi:DataProtection:CertificatePath"] = certificate, ["Vdi:DataProtection:CertificatePassword"] = "pfx-pa55" };
        try
        {
            string cookie;
            using (var first = new BrokerFactory(folder, autoStart: false, settings: withCertificate))
                cookie = await MigrationTests.CookieAsync(first);
            await using (var db = SqliteVdiDbContext.Open(new StorageOptions { DataDirectory = folder }.ResolveConnectionString()))
            {
                var key = Assert.Single(await db.DataProtectionKeys.ToListAsync());
                Assert.Contains("EncryptedData", key.Xml, StringComparison.Ordinal);
                Assert.DoesNotContain("<value>", key.Xml, StringComparison.Ordinal);
            }

            using (var again = new BrokerFactory(folder, autoStart: false, settings: withCertificate))
                Assert.Equal(HttpStatusCode.OK, await DesktopsAsync(again, cookie));
            using (var without = new BrokerFactory(folder, autoStart: false))
                Assert.Equal(HttpStatusCode.Unauthorized, await DesktopsAsync(without, cookie));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<HttpStatusCode> DesktopsAsync(BrokerFactory broker, string cookie)
    {
        var client = broker.CreateClient();
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return (await client.GetAsync("/api/desktops")).StatusCode;
    }
}
