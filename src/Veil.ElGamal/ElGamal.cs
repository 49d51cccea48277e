using System.Collections.Concurrent;
using RandomNumberGenerator = System.Security.Cryptography.RandomNumberGenerator;
using SHA256 = System.Security.Cryptography.SHA256;
using CryptographicOperations = System.Security.Cryptography.CryptographicOperations;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.EC;
using Org.BouncyCastle.Math.EC;
using Org.BouncyCastle.Math.EC.Multiplier;
using BcInteger = Org.BouncyCastle.Math.BigInteger;

namespace Veil.ElGamal;

/// <summary>The curve and its fixed-base tables: NIST P-256 (secp256r1), 128-bit security, on BouncyCastle's arithmetic.</summary>
internal static class Curve
{
    public static readonly X9ECParameters Parameters = CustomNamedCurves.GetByName("secp256r1");
    public static ECCurve Ec => Parameters.Curve;
    public static ECPoint G => Parameters.G;
    public static BcInteger Order => Parameters.N;
    public const int PointBytes = 33;

    // A comb over G (precomputed once, a regular sequence of additions) for r·G and m·G.
    private static readonly FixedPointCombMultiplier Comb = new();

    public static ECPoint MultiplyG(BcInteger k) => Comb.Multiply(G, k.Mod(Order));

    /// <summary>k·P for a public k (BouncyCastle's window NAF).</summary>
    public static ECPoint Multiply(ECPoint p, BcInteger k) => p.IsInfinity ? p : p.Multiply(k.Mod(Order));

    /// <summary>
    /// k·P for a secret k: BouncyCastle's point arithmetic is not constant-time, so the scalar is blinded by a fresh
    /// 64-bit multiple of the group order each time (k + s·q gives the same point, and its bits differ every call).
    /// </summary>
    public static ECPoint MultiplySecret(ECPoint p, BcInteger k)
    {
        if (p.IsInfinity) return p;
        Span<byte> blind = stackalloc byte[8];
        RandomNumberGenerator.Fill(blind);
        var s = new BcInteger(1, blind.ToArray());
        blind.Clear();
        return p.Multiply(k.Mod(Order).Add(s.Multiply(Order)));
    }

    public static BcInteger RandomScalar()
    {
        Span<byte> bytes = stackalloc byte[40]; // 64 extra bits make the reduction's bias below 2^-64
        RandomNumberGenerator.Fill(bytes);
        var k = new BcInteger(1, bytes.ToArray()).Mod(Order.Subtract(BcInteger.One)).Add(BcInteger.One);
        bytes.Clear();
        return k;
    }

    public static BcInteger Scalar(long value) => BcInteger.ValueOf(value).Mod(Order);

    /// <summary>33 bytes: the compressed point, or 33 zero bytes for the point at infinity.</summary>
    public static void Encode(ECPoint p, Span<byte> destination)
    {
        if (p.IsInfinity) { destination[..PointBytes].Clear(); return; }
        p.Normalize().GetEncoded(true).CopyTo(destination);
    }

    /// <summary>The point, checked to lie on the curve (null when the bytes are not a point).</summary>
    public static ECPoint? Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != PointBytes) return null;
        if (!bytes.ContainsAnyExcept((byte)0)) return Ec.Infinity;
        if (bytes[0] != 2 && bytes[0] != 3) return null;
        try
        {
            var p = Ec.DecodePoint(bytes.ToArray());
            return p.IsValid() ? p : null;
        }
        catch (ArgumentException) { return null; }
    }
}

/// <summary>An EC-ElGamal public key X = x·G on P-256.</summary>
public sealed class ElGamalPublicKey
{
    internal ElGamalPublicKey(ECPoint point)
    {
        Point = point.Normalize();
        var encoded = new byte[Curve.PointBytes];
        Curve.Encode(Point, encoded);
        Encoded = encoded;
        Fingerprint = SHA256.HashData(encoded);
    }

    internal ECPoint Point { get; }
    internal byte[] Encoded { get; }
    /// <summary>SHA-256 of the compressed point: ciphertexts carry it when saved.</summary>
    public byte[] Fingerprint { get; }

    /// <summary>Enc(m) (<see cref="ElGamalScheme.Encrypt"/>).</summary>
    public ElGamalCiphertext Encrypt(long m) => ElGamalScheme.Encrypt(this, m);
}

/// <summary>An EC-ElGamal private key x, with the decryption table for its declared range (built on first use, shared by threads).</summary>
public sealed class ElGamalPrivateKey : IDisposable
{
    private byte[] _scalar; // big-endian x, cleared on Dispose
    // Tables depend on (Min, BabySteps) only; a few are kept, so ranges chosen by requests cannot grow memory without bound.
    private readonly ConcurrentDictionary<(long, int), Lazy<DiscreteLogTable>> _tables = new();
    private const int MaxTables = 8;

    internal ElGamalPrivateKey(byte[] scalar, ElGamalPublicKey publicKey)
    {
        _scalar = scalar;
        PublicKey = publicKey;
    }

    /// <summary>The public key.</summary>
    public ElGamalPublicKey PublicKey { get; }

    internal BcInteger Scalar => new(1, _scalar ?? throw new ObjectDisposedException(nameof(ElGamalPrivateKey)));
    internal ReadOnlySpan<byte> ScalarBytes => _scalar ?? throw new ObjectDisposedException(nameof(ElGamalPrivateKey));

    internal DiscreteLogTable Table(ElGamalRange range)
    {
        var key = (range.Min, range.BabySteps);
        if (!_tables.ContainsKey(key) && _tables.Count >= MaxTables) _tables.Clear();
        return _tables.GetOrAdd(key, _ => new Lazy<DiscreteLogTable>(() => new DiscreteLogTable(range))).Value;
    }

    /// <summary>m in <paramref name="range"/> (<see cref="ElGamalScheme.Decrypt"/>).</summary>
    public long Decrypt(ElGamalCiphertext ciphertext, ElGamalRange range) => ElGamalScheme.Decrypt(this, ciphertext, range);

    /// <summary>Clears the scalar.</summary>
    public void Dispose()
    {
        if (_scalar is null) return;
        CryptographicOperations.ZeroMemory(_scalar);
        _scalar = null!;
    }
}

/// <summary>A ciphertext (C1, C2) = (r·G, m·G + r·X).</summary>
public sealed class ElGamalCiphertext
{
    internal ElGamalCiphertext(ElGamalPublicKey key, ECPoint c1, ECPoint c2)
    {
        Key = key;
        C1 = c1;
        C2 = c2;
    }

    /// <summary>The key it is under.</summary>
    public ElGamalPublicKey Key { get; }
    internal ECPoint C1 { get; }
    internal ECPoint C2 { get; }

    /// <summary>Enc(a + b).</summary>
    public static ElGamalCiphertext operator +(ElGamalCiphertext a, ElGamalCiphertext b) => ElGamalScheme.Add(a, b);
    /// <summary>Enc(a − b).</summary>
    public static ElGamalCiphertext operator -(ElGamalCiphertext a, ElGamalCiphertext b) => ElGamalScheme.Add(a, ElGamalScheme.Negate(b));
    /// <summary>Enc(k·a).</summary>
    public static ElGamalCiphertext operator *(ElGamalCiphertext a, long k) => ElGamalScheme.MultiplyScalar(a, k);
}

/// <summary>
/// The plaintexts a decryption searches, [Min, Max], and the size of its baby-step table: decryption costs at most
/// (Max − Min + 1) / BabySteps point additions after one scalar multiplication; the table costs BabySteps additions
/// once per key and range and about 16 bytes an entry.
/// </summary>
public sealed record ElGamalRange
{
    /// <summary>The most entries a table may have (2^24, about 400 MB).</summary>
    public const int MaxBabySteps = 1 << 24;

    /// <summary>[min, max] with a table of about √(range · 64) entries (at most 2^16 unless asked), so that a 2^20 range needs at most 128 giant steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">max &lt; min, or a range past 2^48 values.</exception>
    public ElGamalRange(long min, long max, int babySteps = 0)
    {
        if (max < min) throw new ArgumentOutOfRangeException(nameof(max), max, "max is below min.");
        ulong span = unchecked((ulong)(max - min));
        if (span >= 1UL << 48) throw new ArgumentOutOfRangeException(nameof(max), max, "Ranges are at most 2^48 values (decryption time grows with the range).");
        ulong size = span + 1;
        if (babySteps < 0 || babySteps > MaxBabySteps) throw new ArgumentOutOfRangeException(nameof(babySteps), babySteps, $"Tables have 1 … {MaxBabySteps} entries (0 chooses).");
        // At most 2^16 entries unless asked: larger ranges take more giant steps instead of more memory.
        if (babySteps == 0) babySteps = (int)Math.Min(size, Math.Min(1 << 16, Math.Max(Math.Sqrt(size), Math.Sqrt(size * 64.0))));
        Min = min;
        Max = max;
        BabySteps = (int)Math.Min((ulong)babySteps, size);
    }

    /// <summary>The smallest plaintext searched.</summary>
    public long Min { get; }
    /// <summary>The largest plaintext searched.</summary>
    public long Max { get; }
    /// <summary>Entries of the baby-step table.</summary>
    public int BabySteps { get; }
    /// <summary>The number of plaintexts searched.</summary>
    public ulong Size => (ulong)(Max - Min) + 1;
}

/// <summary>The decrypted point is not m·G for any m in the declared range (the tally left it, or the ciphertext is not what it claims).</summary>
public sealed class ElGamalRangeException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    public ElGamalRangeException(string message) : base(message) { }
}

/// <summary>Baby steps j·G, j ∈ [0, B), keyed by 64 bits of the affine x-coordinate of (Min + j)·G; candidates are confirmed exactly.</summary>
internal sealed class DiscreteLogTable
{
    private readonly Dictionary<ulong, int> _index;
    private readonly List<(ulong Key, int J)> _collisions = [];

    public DiscreteLogTable(ElGamalRange range)
    {
        Range = range;
        int b = range.BabySteps;
        _index = new Dictionary<ulong, int>(b);
        const int batch = 1024;
        var start = range.Min == 0 ? Curve.Ec.Infinity : Curve.MultiplyG(Curve.Scalar(range.Min));
        var current = start;
        var points = new ECPoint[batch];
        for (int j0 = 0; j0 < b; j0 += batch)
        {
            int count = Math.Min(batch, b - j0);
            for (int k = 0; k < count; k++) { points[k] = current; current = current.Add(Curve.G); }
            Curve.Ec.NormalizeAll(points, 0, count, null);
            for (int k = 0; k < count; k++)
            {
                ulong key = Key(points[k]);
                if (!_index.TryAdd(key, j0 + k)) _collisions.Add((key, j0 + k));
            }
        }
        Step = Curve.MultiplyG(BcInteger.ValueOf(b)).Negate();
    }

    public ElGamalRange Range { get; }
    /// <summary>−B·G.</summary>
    public ECPoint Step { get; }

    // 63 bits of the affine x and the parity of y (so P and −P differ); the point at infinity gets its own key. A hit is
    // confirmed exactly by the caller, so a chance collision of the 64 bits costs a check, not a wrong answer.
    public static ulong Key(ECPoint p)
    {
        if (p.IsInfinity) return ulong.MaxValue;
        ulong x = (ulong)p.AffineXCoord.ToBigInteger().LongValue;
        return (x << 1) | (p.AffineYCoord.TestBitZero() ? 1UL : 0UL);
    }

    public IEnumerable<int> Candidates(ulong key)
    {
        if (_index.TryGetValue(key, out int j)) yield return j;
        foreach (var (k, jj) in _collisions) if (k == key) yield return jj;
    }
}
