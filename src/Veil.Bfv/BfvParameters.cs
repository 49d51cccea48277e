using System.Numerics;
using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Bfv;

/// <summary>
/// BFV parameters: the RLWE ring (ciphertext primes Q = q_0 … q_L and special primes P for key switching, 128-bit
/// checked by <see cref="RlweParameters"/>) and the plaintext modulus t. Immutable; every BFV object takes one.
/// </summary>
/// <remarks>
/// <para>A plaintext is a polynomial with coefficients mod t; it is encrypted as round(Q·m/t) (Δ·m, Δ = ⌊Q/t⌋, plus the
/// rounded share of Q mod t, as SEAL: a plaintext product then carries no noise from Q mod t). With t prime and
/// t ≡ 1 (mod 2N) the N coefficients carry N slots (<see cref="SupportsBatching"/>): a 2 × N/2 matrix whose rows
/// rotate by Galois elements 5^k and whose rows swap under X → X^−1, the same automorphisms as CKKS's.</para>
/// <para>Multiplication (HPS-style, Halevi–Polyakov–Shoup 2019, with exact conversions): both operands are lifted from
/// Q to Q ∪ B exactly, tensored there, scaled by t/Q with an exact rounding (the remainder [t·D]_Q converted to B), and
/// the result converted back from B to Q. B (the auxiliary basis, primes below 2^50 so every transform takes the
/// fused-multiply-add path) holds log Q + log t + log N + 8 bits.</para>
/// </remarks>
public sealed class BfvParameters
{
    private readonly Lazy<LevelTools>[] _levels;

    private BfvParameters(RlweParameters ring, ulong plainModulus)
    {
        Ring = ring;
        T = Modulus.ForArithmetic(plainModulus);
        SupportsBatching = Primes.IsPrime(plainModulus) && plainModulus % (2UL * (ulong)ring.N) == 1;
        if (SupportsBatching) PlainNtt = new NttTable(T, ring.LogN);
        var exclude = new HashSet<ulong>(ring.Ring.Moduli.Select(m => m.Value)) { plainModulus };
        double bits = ring.Q.Take(ring.MaxLevel + 1).Sum(q => Math.Log2(q)) + Math.Log2(plainModulus) + ring.LogN + 8;
        var aux = Primes.NttPrimes(50, ring.LogN, (int)Math.Ceiling(bits / 49.9), exclude);
        AuxiliaryBasis = new RnsRing(ring.LogN, aux);
        foreach (var a in aux) exclude.Add(a);
        Gamma = new Modulus(Primes.NttPrimes(61, ring.LogN, 1, exclude)[0]);
        _levels = Enumerable.Range(0, ring.MaxLevel + 1).Select(l => new Lazy<LevelTools>(() => new LevelTools(this, l))).ToArray();
    }

    /// <summary>The RLWE ring (Q, P, N, security).</summary>
    public RlweParameters Ring { get; }
    /// <summary>The plaintext modulus t.</summary>
    public ulong PlainModulus => T.Value;
    /// <summary>Ring degree N.</summary>
    public int N => Ring.N;
    /// <summary>Highest level L (L + 1 ciphertext primes).</summary>
    public int MaxLevel => Ring.MaxLevel;
    /// <summary>Whether t is a prime ≡ 1 mod 2N, so that plaintexts hold N slots.</summary>
    public bool SupportsBatching { get; }
    /// <summary>Slots of the batching encoder (N), arranged as 2 rows of N/2.</summary>
    public int Slots => N;
    /// <summary>log2 Q at the top level.</summary>
    public double LogQ => Ring.Q.Take(MaxLevel + 1).Sum(q => Math.Log2(q));

    internal Modulus T { get; }
    internal NttTable? PlainNtt { get; }
    internal RnsRing AuxiliaryBasis { get; }
    internal Modulus Gamma { get; }
    internal LevelTools Level(int level) => _levels[level].Value;

    /// <summary>Δ = ⌊Q_ℓ/t⌋ modulo each prime of Q_ℓ: the factor a plaintext is scaled by at <paramref name="level"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A level outside [0, L].</exception>
    public IReadOnlyList<ulong> DeltaResidues(int level)
    {
        if (level < 0 || level > MaxLevel) throw new ArgumentOutOfRangeException(nameof(level), level, $"Level must be in [0, {MaxLevel}].");
        return Level(level).DeltaModQ;
    }

    /// <summary>Validates a set built from explicit primes.</summary>
    /// <exception cref="ArgumentException">A bad prime, a set below <paramref name="minimumSecurity"/>, or t outside [2, 2^60) or sharing a factor with Q.</exception>
    public static BfvParameters Create(int logN, IReadOnlyList<ulong> q, IReadOnlyList<ulong> p, ulong plainModulus, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        if (plainModulus < 2 || plainModulus >> 60 != 0) throw new ArgumentOutOfRangeException(nameof(plainModulus), plainModulus, "t must be in [2, 2^60).");
        var ring = RlweParameters.Create(logN, q, p, minimumSecurity);
        foreach (var m in ring.Ring.Moduli)
            if (BigInteger.GreatestCommonDivisor(m.Value, plainModulus) != 1) throw new ArgumentException($"t = {plainModulus} shares a factor with the prime {m.Value}.", nameof(plainModulus));
        if (Math.Log2(plainModulus) + 20 > ring.Q.Take(ring.MaxLevel + 1).Sum(x => Math.Log2(x)))
            throw new ArgumentException($"Q ({ring.Q.Sum(x => Math.Log2(x)):F0} bits) leaves no room for noise above t ({Math.Log2(plainModulus):F0} bits).", nameof(plainModulus));
        return new BfvParameters(ring, plainModulus);
    }

    /// <summary>Builds a set from prime sizes: ciphertext primes of <paramref name="qBits"/> bits and special primes of <paramref name="pBits"/> bits.</summary>
    public static BfvParameters Create(int logN, IReadOnlyList<int> qBits, IReadOnlyList<int> pBits, ulong plainModulus, SecurityLevel minimumSecurity = SecurityLevel.Bits128)
    {
        ArgumentNullException.ThrowIfNull(qBits);
        ArgumentNullException.ThrowIfNull(pBits);
        var used = new HashSet<ulong> { plainModulus };
        ulong[] Take(IEnumerable<int> sizes) => [.. sizes.Select(bits =>
        {
            ulong prime = Primes.NttPrimes(bits, logN, 1, used)[0];
            used.Add(prime);
            return prime;
        })];
        var q = Take(qBits);
        var p = Take(pBits);
        return Create(logN, q, p, plainModulus, minimumSecurity);
    }

    /// <summary>The largest prime of <paramref name="bits"/> bits that is ≡ 1 mod 2N (a batching plaintext modulus).</summary>
    public static ulong BatchingPrime(int bits, int logN) => Primes.NttPrimes(bits, logN, 1)[0];

    /// <summary>
    /// The parameter sizes of SEAL's 128-bit BFV defaults (BFVDefault: N = 4096: {36, 36 | 37}; 8192: {43, 43, 44, 44 |
    /// 44}; 16384: {48 × 3, 49 × 5 | 49}; 32768: {55 × 15 | 55}, the last prime special) with a batching prime of
    /// <paramref name="plainBits"/> bits.
    /// </summary>
    public static BfvParameters Default(int n, int plainBits = 20)
    {
        var (logN, q, p) = n switch
        {
            4096 => (12, new[] { 36, 36 }, new[] { 37 }),
            8192 => (13, new[] { 43, 43, 44, 44 }, new[] { 44 }),
            16384 => (14, new[] { 48, 48, 48, 49, 49, 49, 49, 49 }, new[] { 49 }),
            32768 => (15, Enumerable.Repeat(55, 15).ToArray(), new[] { 55 }),
            _ => throw new ArgumentOutOfRangeException(nameof(n), n, "N is 4096, 8192, 16384 or 32768."),
        };
        return Create(logN, q, p, BatchingPrime(plainBits, logN));
    }

    /// <summary>
    /// The smallest 128-bit set (N = 4096 … 32768) whose noise budget survives <paramref name="depth"/> sequential
    /// multiplications with relinearization (1 … 10), with a batching prime of <paramref name="plainBits"/> bits.
    /// </summary>
    /// <remarks>Budget model, checked by the tests: a fresh ciphertext has log Q − log t − log N − 6 bits and each
    /// multiplication costs log t + log N + 6 (HPS-style tensoring); 30 bits are left over. Primes of 50–60 bits, one
    /// special prime at least as large as the largest ciphertext prime.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">A depth or a plaintext size no 128-bit ring up to 2^15 holds.</exception>
    public static BfvParameters ForDepth(int depth, int plainBits = 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, 10);
        foreach (int logN in new[] { 12, 13, 14, 15 })
        {
            double perMul = plainBits + logN + 6;
            double needed = plainBits + logN + 6 + depth * perMul + 30;
            int max = HomomorphicEncryptionStandard.MaxLogQP(logN, SecurityLevel.Bits128) ?? 0;
            int primeBits = logN == 12 ? 36 : Math.Min(60, Math.Max(40, (int)Math.Ceiling(needed / Math.Max(1, Math.Ceiling(needed / 58)))));
            int count = (int)Math.Ceiling(needed / primeBits);
            if ((count + 1) * primeBits > max) continue;
            return Create(logN, Enumerable.Repeat(primeBits, count).ToArray(), [primeBits], BatchingPrime(plainBits, logN));
        }
        throw new ArgumentOutOfRangeException(nameof(depth), depth, $"No 128-bit ring up to N = 2^15 holds depth {depth} with a {plainBits}-bit t.");
    }

    /// <summary>Per-level constants: Δ, decryption's γ-correction, and the multiplication's basis conversions.</summary>
    internal sealed class LevelTools
    {
        public LevelTools(BfvParameters p, int level)
        {
            var q = p.Ring.Ring.Moduli.Take(level + 1).ToArray();
            var aux = p.AuxiliaryBasis.Moduli.ToArray();
            BigInteger Q = q.Aggregate(BigInteger.One, (acc, m) => acc * m.Value);
            ulong t = p.PlainModulus;
            var delta = Q / t;
            DeltaModQ = [.. q.Select(m => (ulong)(delta % m.Value))];
            TModQ = [.. q.Select(m => m.Reduce(t))];
            GammaTModQ = [.. q.Select(m => (ulong)(new BigInteger(p.Gamma.Value) * t % m.Value))];
            // Fast conversion Q → {t, γ}: (Q/q_i)^-1 mod q_i and Q/q_i mod t, mod γ.
            HatInverse = new ulong[q.Length];
            HatModT = new ulong[q.Length];
            HatModGamma = new ulong[q.Length];
            for (int i = 0; i < q.Length; i++)
            {
                var hat = Q / q[i].Value;
                HatInverse[i] = (ulong)BigInteger.ModPow(hat % q[i].Value, q[i].Value - 2, q[i].Value);
                HatModT[i] = (ulong)(hat % t);
                HatModGamma[i] = (ulong)(hat % p.Gamma.Value);
            }
            NegInverseQModT = (ulong)((t - ModInverse(Q % t, t)) % t);
            NegInverseQModGamma = p.Gamma.Negate(p.Gamma.Inverse((ulong)(Q % p.Gamma.Value)));
            InverseGammaModT = (ulong)ModInverse(p.Gamma.Value % t, t);
            QToAux = new BasisConverter(q, aux);
            AuxToQ = new BasisConverter(aux, q);
            InverseQModAux = [.. aux.Select(m => m.Inverse((ulong)(Q % m.Value)))];
            TModAux = [.. aux.Select(m => m.Reduce(t))];
            Modulus = Q;
            QModT = (ulong)(Q % t);
        }

        /// <summary>a^-1 mod m by the extended Euclidean algorithm (t may be composite; Q and γ are coprime to it).</summary>
        private static BigInteger ModInverse(BigInteger a, BigInteger m)
        {
            BigInteger r0 = m, r1 = ((a % m) + m) % m, s0 = 0, s1 = 1;
            while (r1 != 0)
            {
                var quotient = r0 / r1;
                (r0, r1) = (r1, r0 - quotient * r1);
                (s0, s1) = (s1, s0 - quotient * s1);
            }
            if (r0 != 1) throw new ArgumentException($"{a} has no inverse modulo {m}.");
            return ((s0 % m) + m) % m;
        }

        public BigInteger Modulus { get; }
        /// <summary>Q_ℓ mod t: the remainder that rounded scaling spreads over t (SEAL's Δ·m + ⌊((Q mod t)·m + ⌊t/2⌋)/t⌋).</summary>
        public ulong QModT { get; }
        public ulong[] DeltaModQ { get; }
        public ulong[] TModQ { get; }
        public ulong[] GammaTModQ { get; }
        public ulong[] HatInverse { get; }
        public ulong[] HatModT { get; }
        public ulong[] HatModGamma { get; }
        public ulong NegInverseQModT { get; }
        public ulong NegInverseQModGamma { get; }
        public ulong InverseGammaModT { get; }
        public BasisConverter QToAux { get; }
        public BasisConverter AuxToQ { get; }
        public ulong[] InverseQModAux { get; }
        public ulong[] TModAux { get; }
    }
}
