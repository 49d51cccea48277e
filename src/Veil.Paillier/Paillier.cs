using System.Numerics;
using System.Security.Cryptography;

namespace Veil.Paillier;

/// <summary>A Paillier public key: n, g = n + 1, and the DJN base h_s = h^n mod n² (h = −x² mod n for a random x).</summary>
/// <remarks>
/// <para>Encryption (Damgård–Jurik–Nielsen 2010, §4): c = (1 + m·n) · h_s^α mod n² with α uniform of ⌈|n|/2⌉ bits. The
/// extra assumption: besides DCR, that h_s^α for such short α is indistinguishable from a uniform n-th residue
/// (the subgroup indistinguishability with short exponents). <see cref="PaillierScheme.EncryptStandard"/> is the textbook form,
/// c = (1 + m·n) · r^n mod n² for uniform r ∈ Z_n*, which needs DCR only, at about 4 times the cost.</para>
/// <para>Security: 3072-bit n for 128-bit security (the default); 2048-bit n is about 112-bit and is refused unless the
/// caller opts out explicitly.</para>
/// </remarks>
public sealed class PaillierPublicKey
{
    private readonly Lazy<FixedBaseExponentiator> _fixedBase;

    internal PaillierPublicKey(BigInteger n, BigInteger hs)
    {
        N = n;
        NSquared = n * n;
        Hs = hs;
        Context = new MontgomeryContext(NSquared);
        RandomBits = (int)((n.GetBitLength() + 1) / 2);
        _fixedBase = new Lazy<FixedBaseExponentiator>(() => new FixedBaseExponentiator(Context, Hs, RandomBits));
        MaxPlaintext = n;
    }

    /// <summary>The modulus n.</summary>
    public BigInteger N { get; }
    /// <summary>n².</summary>
    public BigInteger NSquared { get; }
    /// <summary>The DJN base h_s.</summary>
    public BigInteger Hs { get; }
    /// <summary>Bits of n.</summary>
    public int Bits => (int)N.GetBitLength();
    /// <summary>Plaintexts are integers mod n.</summary>
    public BigInteger MaxPlaintext { get; }
    /// <summary>A fingerprint of n (SHA-256), which ciphertexts carry when saved.</summary>
    public byte[] Fingerprint => SHA256.HashData(N.ToByteArray(isUnsigned: true, isBigEndian: true));

    internal MontgomeryContext Context { get; }
    internal int RandomBits { get; }
    internal FixedBaseExponentiator FixedBase => _fixedBase.Value;

    /// <summary>Enc(m) by the DJN form (<see cref="PaillierScheme.Encrypt"/>).</summary>
    public PaillierCiphertext Encrypt(BigInteger m) => PaillierScheme.Encrypt(this, m);

    /// <summary>An encrypted real at a public base-16 exponent (<see cref="PaillierFixedPoint.Encrypt"/>).</summary>
    public PaillierReal EncryptReal(double value, int exponent = PaillierFixedPoint.DefaultExponent) => PaillierFixedPoint.Encrypt(this, value, exponent);

    /// <summary>Builds the fixed-base table now (about 3 MB for 2048-bit n) instead of at the first encryption.</summary>
    public void Precompute() => _ = _fixedBase.Value;
}

/// <summary>A Paillier private key: p, q and the CRT constants of decryption.</summary>
/// <remarks>BigInteger values are immutable and cannot be wiped; keep private keys in few places and save them only through an <see cref="Veil.Serialization.ISecretProtector"/>.</remarks>
public sealed class PaillierPrivateKey
{
    internal PaillierPrivateKey(PaillierPublicKey publicKey, BigInteger p, BigInteger q)
    {
        PublicKey = publicKey;
        P = p; Q = q;
        PSquared = p * p; QSquared = q * q;
        PContext = new MontgomeryContext(PSquared);
        QContext = new MontgomeryContext(QSquared);
        // With g = n + 1: L_p(g^(p−1) mod p²) = (p − 1)·q mod p, so h_p = ((p − 1)·q)^-1 mod p.
        Hp = Inverse((p - 1) * q % p, p);
        Hq = Inverse((q - 1) * p % q, q);
        QInverseModP = Inverse(q % p, p);
    }

    /// <summary>The public key.</summary>
    public PaillierPublicKey PublicKey { get; }

    /// <summary>m ∈ [0, n) (<see cref="PaillierScheme.Decrypt"/>).</summary>
    public BigInteger Decrypt(PaillierCiphertext ciphertext) => PaillierScheme.Decrypt(this, ciphertext);

    /// <summary>The real value, its bound checked (<see cref="PaillierFixedPoint.Decrypt"/>).</summary>
    public double Decrypt(PaillierReal value) => PaillierFixedPoint.Decrypt(this, value);

    internal BigInteger P { get; }
    internal BigInteger Q { get; }
    internal BigInteger PSquared { get; }
    internal BigInteger QSquared { get; }
    internal BigInteger Hp { get; }
    internal BigInteger Hq { get; }
    internal BigInteger QInverseModP { get; }
    internal MontgomeryContext PContext { get; }
    internal MontgomeryContext QContext { get; }

    internal static BigInteger Inverse(BigInteger a, BigInteger m)
    {
        BigInteger r0 = m, r1 = ((a % m) + m) % m, s0 = 0, s1 = 1;
        while (!r1.IsZero)
        {
            var quotient = r0 / r1;
            (r0, r1) = (r1, r0 - quotient * r1);
            (s0, s1) = (s1, s0 - quotient * s1);
        }
        if (!r0.IsOne) throw new ArgumentException("Not invertible.", nameof(a));
        return ((s0 % m) + m) % m;
    }
}

/// <summary>A Paillier ciphertext: an integer modulo n², bound to its key.</summary>
public sealed class PaillierCiphertext
{
    internal PaillierCiphertext(PaillierPublicKey key, BigInteger value)
    {
        Key = key;
        Value = value;
    }

    /// <summary>The key it is under.</summary>
    public PaillierPublicKey Key { get; }
    /// <summary>c, in [1, n²), a unit mod n.</summary>
    public BigInteger Value { get; }

    /// <summary>Enc(a + b).</summary>
    public static PaillierCiphertext operator +(PaillierCiphertext a, PaillierCiphertext b) => PaillierScheme.Add(a, b);
    /// <summary>Enc(a − b).</summary>
    public static PaillierCiphertext operator -(PaillierCiphertext a, PaillierCiphertext b) => PaillierScheme.Subtract(a, b);
    /// <summary>Enc(−a).</summary>
    public static PaillierCiphertext operator -(PaillierCiphertext a) => PaillierScheme.Negate(a);
    /// <summary>Enc(a + k).</summary>
    public static PaillierCiphertext operator +(PaillierCiphertext a, BigInteger k) => PaillierScheme.AddPlain(a, k);
    /// <summary>Enc(k·a).</summary>
    public static PaillierCiphertext operator *(PaillierCiphertext a, BigInteger k) => PaillierScheme.MultiplyScalar(a, k);
}

/// <summary>Paillier key generation, encryption, decryption and the additive operations.</summary>
/// <remarks>Constant time covers the exponentiations with secret exponents (decryption, key generation's primality
/// tests): the number of products and the table reads do not depend on the exponent. The BigInteger steps around them
/// (reductions modulo p², the CRT recombination, the modular inverses made once per key) are ordinary and take time
/// that depends on their values. A public key from a party you do not trust: encrypt with
/// <see cref="PaillierScheme.EncryptStandard"/>, whose security does not rest on its h_s.</remarks>
public static class PaillierScheme
{
    /// <summary>The default and 128-bit key size.</summary>
    public const int DefaultBits = 3072;

    /// <summary>
    /// Generates a key pair: random primes p, q of bits/2 bits each (top two bits set, so n has exactly
    /// <paramref name="bits"/> bits) from <see cref="RandomNumberGenerator"/>, p ≠ q, gcd(n, φ(n)) = 1.
    /// </summary>
    /// <param name="bits">3072 (128-bit) by default; 2048 (about 112-bit) only with <paramref name="allowBelow128Bits"/>.</param>
    /// <param name="allowBelow128Bits">The caller's explicit opt-out for keys below 3072 bits (at least 2048).</param>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than 3072 bits without the opt-out, fewer than 2048 ever, or not a multiple of 64.</exception>
    public static (PaillierPublicKey PublicKey, PaillierPrivateKey PrivateKey) GenerateKeys(int bits = DefaultBits, bool allowBelow128Bits = false)
    {
        if (bits < 2048 || bits > 8192 || bits % 64 != 0) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Key sizes are 2048 … 8192 bits, a multiple of 64.");
        if (bits < DefaultBits && !allowBelow128Bits) throw new ArgumentOutOfRangeException(nameof(bits), bits, $"{bits}-bit keys give less than 128-bit security; pass allowBelow128Bits: true to accept that.");
        while (true)
        {
            var p = Primes.Random(bits / 2);
            var q = Primes.Random(bits / 2);
            if (p == q) continue;
            var n = p * q;
            if (n.GetBitLength() != bits || !BigInteger.GreatestCommonDivisor(n, (p - 1) * (q - 1)).IsOne) continue;
            var pk = new PaillierPublicKey(n, NewHs(n));
            return (pk, new PaillierPrivateKey(pk, p, q));
        }
    }

    private static BigInteger NewHs(BigInteger n)
    {
        BigInteger x;
        do x = Primes.RandomBelow(n); while (x <= 1 || !BigInteger.GreatestCommonDivisor(x, n).IsOne);
        var h = (n - x * x % n) % n;
        // h^n mod n² with the CRT over p² and q² (the key owner knows the factors).
        var n2 = n * n;
        var ctx = new MontgomeryContext(n2);
        return ctx.Pow(h, n, (int)n.GetBitLength(), secretExponent: false);
    }

    /// <summary>Encrypts m ∈ [0, n) (or a negative m ∈ (−n, 0), taken mod n) by the DJN form.</summary>
    /// <exception cref="ArgumentOutOfRangeException">|m| ≥ n.</exception>
    public static PaillierCiphertext Encrypt(PaillierPublicKey key, BigInteger m)
    {
        ArgumentNullException.ThrowIfNull(key);
        var reduced = Reduce(key, m);
        var alpha = Primes.RandomBits(key.RandomBits);
        return new PaillierCiphertext(key, key.FixedBase.PowTimes(alpha, (BigInteger.One + reduced * key.N) % key.NSquared));
    }

    /// <summary>Encrypts m by the textbook form (1 + m·n)·r^n mod n², r uniform in Z_n* (DCR only; slower).</summary>
    public static PaillierCiphertext EncryptStandard(PaillierPublicKey key, BigInteger m)
    {
        ArgumentNullException.ThrowIfNull(key);
        var reduced = Reduce(key, m);
        BigInteger r;
        do r = Primes.RandomBelow(key.N); while (r.IsZero || !BigInteger.GreatestCommonDivisor(r, key.N).IsOne);
        var rn = key.Context.Pow(r, key.N, key.Bits, secretExponent: false); // n is public; r is hidden in the base
        return new PaillierCiphertext(key, (BigInteger.One + reduced * key.N) % key.NSquared * rn % key.NSquared);
    }

    private static BigInteger Reduce(PaillierPublicKey key, BigInteger m)
    {
        if (BigInteger.Abs(m) >= key.N) throw new ArgumentOutOfRangeException(nameof(m), "Plaintexts are integers mod n (|m| < n).");
        return m.Sign < 0 ? m + key.N : m;
    }

    /// <summary>Decrypts to m ∈ [0, n), by the CRT over p² and q² with constant-time exponentiations.</summary>
    /// <exception cref="ArgumentException">A ciphertext under another key.</exception>
    public static BigInteger Decrypt(PaillierPrivateKey key, PaillierCiphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(ciphertext);
        if (!ReferenceEquals(ciphertext.Key, key.PublicKey) && ciphertext.Key.N != key.PublicKey.N) throw new ArgumentException("The ciphertext is under another key.", nameof(ciphertext));
        var c = ciphertext.Value;
        BigInteger mp = Part(c, key.P, key.PSquared, key.PContext, key.Hp);
        BigInteger mq = Part(c, key.Q, key.QSquared, key.QContext, key.Hq);
        // m = mq + q·((mp − mq)·q^-1 mod p).
        var diff = ((mp - mq) % key.P + key.P) % key.P;
        return mq + key.Q * (diff * key.QInverseModP % key.P);
    }

    private static BigInteger Part(BigInteger c, BigInteger p, BigInteger p2, MontgomeryContext context, BigInteger h)
    {
        var x = context.Pow(c % p2, p - 1, (int)p.GetBitLength(), secretExponent: true);
        return (x - 1) / p * h % p;
    }

    /// <summary>Enc(a + b).</summary>
    public static PaillierCiphertext Add(PaillierCiphertext a, PaillierCiphertext b)
    {
        CheckSameKey(a, b);
        return new PaillierCiphertext(a.Key, MultiplyModN2(a.Key, a.Value, b.Value));
    }

    private static BigInteger MultiplyModN2(PaillierPublicKey key, BigInteger x, BigInteger y) =>
        key.Context.Fma is { } fma ? fma.MultiplyMod(x, y) : x * y % key.NSquared;

    /// <summary>Enc(a + k) for a plaintext k (no randomness added: rerandomize before sharing if k must stay hidden in c).</summary>
    public static PaillierCiphertext AddPlain(PaillierCiphertext a, BigInteger k)
    {
        ArgumentNullException.ThrowIfNull(a);
        var reduced = Reduce(a.Key, k);
        return new PaillierCiphertext(a.Key, MultiplyModN2(a.Key, a.Value, (BigInteger.One + reduced * a.Key.N) % a.Key.NSquared));
    }

    /// <summary>Enc(k·a) for a plaintext scalar k (negative k allowed).</summary>
    public static PaillierCiphertext MultiplyScalar(PaillierCiphertext a, BigInteger k)
    {
        ArgumentNullException.ThrowIfNull(a);
        var reduced = Reduce(a.Key, k);
        var key = a.Key;
        // A public exponent: plain windows. For large k (a negative one is n − |k|) exponentiate the inverse instead.
        if (reduced > key.N / 2) return new PaillierCiphertext(key, key.Context.Pow(PaillierPrivateKey.Inverse(a.Value, key.NSquared), key.N - reduced, key.Bits, false));
        return new PaillierCiphertext(key, key.Context.Pow(a.Value, reduced, (int)Math.Max(1, reduced.GetBitLength()), false));
    }

    /// <summary>Enc(−a).</summary>
    public static PaillierCiphertext Negate(PaillierCiphertext a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new PaillierCiphertext(a.Key, PaillierPrivateKey.Inverse(a.Value, a.Key.NSquared));
    }

    /// <summary>Enc(a − b).</summary>
    public static PaillierCiphertext Subtract(PaillierCiphertext a, PaillierCiphertext b) => Add(a, Negate(b));

    /// <summary>A fresh-looking encryption of the same plaintext (multiplied by an encryption of 0).</summary>
    public static PaillierCiphertext Rerandomize(PaillierCiphertext a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return Add(a, Encrypt(a.Key, BigInteger.Zero));
    }

    /// <summary>Encrypts every value, on all cores.</summary>
    public static PaillierCiphertext[] EncryptVector(PaillierPublicKey key, ReadOnlySpan<long> values, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        key.Precompute();
        var copy = values.ToArray();
        var result = new PaillierCiphertext[copy.Length];
        Parallel.For(0, copy.Length, new ParallelOptions { CancellationToken = cancellation }, i => result[i] = Encrypt(key, copy[i]));
        return result;
    }

    /// <summary>Element-wise sums of two equal-length vectors, on all cores.</summary>
    public static PaillierCiphertext[] AddVectors(IReadOnlyList<PaillierCiphertext> a, IReadOnlyList<PaillierCiphertext> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count) throw new ArgumentException($"Vectors of {a.Count} and {b.Count} ciphertexts.", nameof(b));
        var result = new PaillierCiphertext[a.Count];
        Parallel.For(0, a.Count, i => result[i] = Add(a[i], b[i]));
        return result;
    }

    /// <summary>Decrypts every ciphertext, on all cores.</summary>
    public static BigInteger[] DecryptVector(PaillierPrivateKey key, IReadOnlyList<PaillierCiphertext> ciphertexts)
    {
        ArgumentNullException.ThrowIfNull(ciphertexts);
        var result = new BigInteger[ciphertexts.Count];
        Parallel.For(0, ciphertexts.Count, i => result[i] = Decrypt(key, ciphertexts[i]));
        return result;
    }

    private static void CheckSameKey(PaillierCiphertext a, PaillierCiphertext b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!ReferenceEquals(a.Key, b.Key) && a.Key.N != b.Key.N) throw new ArgumentException("The ciphertexts are under different keys.", nameof(b));
    }
}

/// <summary>Random primes and integers from <see cref="RandomNumberGenerator"/>.</summary>
internal static class Primes
{
    private static readonly int[] Small = [.. Enumerable.Range(3, 2000).Where(IsSmallPrime)];

    /// <summary>The odd primes below 17,400, for trial division of a received modulus.</summary>
    public static readonly int[] SmallPrimes = [.. Enumerable.Range(3, 17_400).Where(IsSmallPrime)];

    private static bool IsSmallPrime(int x)
    {
        for (int d = 2; d * d <= x; d++) if (x % d == 0) return false;
        return x >= 2;
    }

    public static BigInteger RandomBits(int bits)
    {
        var bytes = RandomNumberGenerator.GetBytes((bits + 7) / 8 + 1);
        try
        {
            bytes[^1] = 0;
            int extra = bytes.Length * 8 - 8 - bits;
            if (extra > 0) bytes[^2] &= (byte)(0xFF >> extra);
            return new BigInteger(bytes);
        }
        finally { CryptographicOperations.ZeroMemory(bytes); }
    }

    public static BigInteger RandomBelow(BigInteger bound)
    {
        int bits = (int)bound.GetBitLength();
        BigInteger x;
        do x = RandomBits(bits); while (x >= bound);
        return x;
    }

    /// <summary>A random prime of exactly <paramref name="bits"/> bits with the top two set.</summary>
    public static BigInteger Random(int bits)
    {
        while (true)
        {
            var candidate = RandomBits(bits) | (BigInteger.One << (bits - 1)) | (BigInteger.One << (bits - 2)) | BigInteger.One;
            bool composite = false;
            foreach (int s in Small) if (candidate % s == 0) { composite = true; break; }
            if (composite || !IsProbablePrime(candidate, 40)) continue;
            return candidate;
        }
    }

    /// <summary>Miller–Rabin with random bases (error below 4^-rounds), with the Montgomery exponentiation.</summary>
    public static bool IsProbablePrime(BigInteger n, int rounds)
    {
        if (n < 4) return n == 2 || n == 3;
        if (n.IsEven) return false;
        var d = n - 1;
        int r = 0;
        while (d.IsEven) { d >>= 1; r++; }
        var context = new MontgomeryContext(n);
        int bits = (int)n.GetBitLength();
        for (int i = 0; i < rounds; i++)
        {
            BigInteger a;
            do a = RandomBelow(n - 3) + 2; while (a < 2);
            var x = context.Pow(a, d, bits, secretExponent: true);
            if (x.IsOne || x == n - 1) continue;
            bool witness = true;
            for (int j = 1; j < r && witness; j++)
            {
                x = x * x % n;
                if (x == n - 1) witness = false;
            }
            if (witness) return false;
        }
        return true;
    }
}
