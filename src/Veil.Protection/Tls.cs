using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Veil.Protection;

/// <summary>
/// TLS for Veil's servers and clients (the inference service, federation, MPC parties): TLS 1.3 (1.2 allowed),
/// development certificates, and pinning of a peer's public key instead of (or on top of) a CA.
/// </summary>
/// <remarks>
/// The options plug into Kestrel (<c>listenOptions.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = _ =&gt;
/// ValueTask.FromResult(Tls.ServerOptions(cert)) })</c>), into gRPC clients (<c>new SocketsHttpHandler { SslOptions =
/// Tls.ClientOptions(host, pins) }</c>) and into <see cref="SslStream"/> for raw sockets.
/// </remarks>
public static class Tls
{
    private const SslProtocols Protocols = SslProtocols.Tls13 | SslProtocols.Tls12;

    /// <summary>
    /// A self-signed ECDSA P-256 certificate for development and tests (server and client authentication, the given DNS
    /// names and 127.0.0.1, ::1), valid from now for <paramref name="validity"/> (default 30 days).
    /// </summary>
    public static X509Certificate2 CreateDevelopmentCertificate(string subject, IEnumerable<string>? dnsNames = null, TimeSpan? validity = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subject);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames ?? ["localhost"]) san.AddDnsName(name);
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? TimeSpan.FromDays(30)));
        // Round-trip through PKCS#12 so that the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The pin of a certificate: SHA-256 of its SubjectPublicKeyInfo, base64 (as HPKP and curl's --pinnedpubkey).</summary>
    public static string Pin(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>
    /// Checks a presented certificate against pins: accepted when its key's pin is one of <paramref name="pins"/> and it
    /// is within its validity period; chain errors are ignored only because the key itself is pinned.
    /// </summary>
    public static bool MatchesPin(X509Certificate? certificate, IReadOnlyCollection<string> pins)
    {
        if (certificate is null) return false;
        using var cert = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var now = DateTime.Now;
        if (now < cert.NotBefore || now > cert.NotAfter) return false;
        var pin = Pin(cert);
        return pins.Any(p => CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(p), System.Text.Encoding.ASCII.GetBytes(pin)));
    }

    /// <summary>Server options: TLS 1.3/1.2, the server certificate, and, when <paramref name="clientPins"/> is given, mutual TLS with pinned client keys.</summary>
    public static SslServerAuthenticationOptions ServerOptions(X509Certificate2 certificate, IReadOnlyCollection<string>? clientPins = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return new SslServerAuthenticationOptions
        {
            ServerCertificate = certificate,
            EnabledSslProtocols = Protocols,
            ClientCertificateRequired = clientPins is not null,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = clientPins is null ? null : (_, cert, _, _) => MatchesPin(cert, clientPins),
        };
    }

    /// <summary>
    /// Client options: TLS 1.3/1.2 to <paramref name="host"/>; with <paramref name="serverPins"/> the server's key must
    /// be pinned (whatever CA signed it), without them the system's CA validation applies; an optional client certificate for mutual TLS.
    /// </summary>
    public static SslClientAuthenticationOptions ClientOptions(string host, IReadOnlyCollection<string>? serverPins = null, X509Certificate2? clientCertificate = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        return new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = Protocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            RemoteCertificateValidationCallback = serverPins is null ? null : (_, cert, _, _) => MatchesPin(cert, serverPins),
        };
    }
}
