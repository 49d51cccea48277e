using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// Products of a secret key with public polynomials, always with fresh Gaussian noise added: the form in which a
/// party's secret enters a multiparty share. No product is returned without noise, since s·x for a public x gives s.
/// </summary>
public static class SecretProducts
{
    /// <summary>s·x + e over x's limbs (the first x.LimbCount primes of Q·P), NTT form in and out; e of deviation σ.</summary>
    /// <param name="secret">The secret key (a party's share, or an ephemeral key).</param>
    /// <param name="x">A public polynomial in NTT form over a prefix of the ring's primes.</param>
    /// <param name="sigma">The noise's standard deviation: 3.2 for key generation, larger for flooding (at most 2^55).</param>
    /// <exception cref="ArgumentException">x is not in NTT form, has too many limbs or another degree, or is not reduced.</exception>
    public static RnsPolynomial MultiplyAddNoise(SecretKey secret, RnsPolynomial x, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Check(secret.Parameters, x);
        return Product(secret.Parameters, secret.Ntt, x.Data, x.LimbCount, sigma);
    }

    /// <summary>s·x + e for x given as <paramref name="limbs"/> limbs of NTT-form words (a ciphertext's c_1 in place, with no copy).</summary>
    /// <exception cref="ArgumentException">x is shorter than its limbs, has too many limbs, or is not reduced.</exception>
    public static RnsPolynomial MultiplyAddNoise(SecretKey secret, ReadOnlySpan<ulong> x, int limbs, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Check(secret.Parameters, x, limbs);
        return Product(secret.Parameters, secret.Ntt, x, limbs, sigma);
    }

    /// <summary>w·x + e for a secret polynomial w and x given as NTT-form words, as the overload above.</summary>
    /// <exception cref="ArgumentException">x is shorter than its limbs, has too many limbs, or is not reduced.</exception>
    public static RnsPolynomial MultiplyAddNoise(SecretPolynomial secret, ReadOnlySpan<ulong> x, int limbs, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Check(secret.Parameters, x, limbs);
        return Product(secret.Parameters, secret.Ntt, x, limbs, sigma);
    }

    /// <summary>
    /// (λ·w)·x + e for a secret polynomial w, public per-prime scalars λ (a threshold share's Lagrange coefficient) and x
    /// as NTT-form words: computed as w·(λ·x), so λ multiplies the public x over its limbs instead of a secret copy of w.
    /// </summary>
    /// <exception cref="ArgumentException">λ is not one residue per prime of the ring, or x as in the overload without λ.</exception>
    public static RnsPolynomial MultiplyAddNoise(SecretPolynomial secret, ReadOnlySpan<ulong> scalar, ReadOnlySpan<ulong> x, int limbs, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var ring = Check(secret.Parameters, x, limbs);
        if (scalar.Length != ring.LimbCount) ThrowHelper.Argument(nameof(scalar), $"One residue per prime ({ring.LimbCount}); got {scalar.Length}.");
        for (int l = 0; l < limbs; l++)
            if (scalar[l] >= ring.Moduli[l].Value) ThrowHelper.Argument(nameof(scalar), $"The residue for prime {l} is not below it.");
        int len = limbs * ring.N;
        var scaled = System.Buffers.ArrayPool<ulong>.Shared.Rent(len); // λ·x is public: the shared pool is fine
        try
        {
            ring.MulScalar(x[..len], scalar, scaled, 0, limbs);
            return Product(secret.Parameters, secret.Ntt, scaled.AsSpan(0, len), limbs, sigma);
        }
        finally { System.Buffers.ArrayPool<ulong>.Shared.Return(scaled); }
    }

    /// <summary>w·x + e for a secret polynomial w (a threshold share times its Lagrange coefficient), noise of deviation σ.</summary>
    public static RnsPolynomial MultiplyAddNoise(SecretPolynomial secret, RnsPolynomial x, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Check(secret.Parameters, x);
        return Product(secret.Parameters, secret.Ntt, x.Data, x.LimbCount, sigma);
    }

    /// <summary>(s − t)·x + e: the difference of two secrets times a public polynomial, with noise of deviation σ.</summary>
    /// <exception cref="ArgumentException">The keys belong to other parameters, or x is malformed.</exception>
    public static RnsPolynomial MultiplyDifferenceAddNoise(SecretKey s, SecretKey t, RnsPolynomial x, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(t);
        if (!s.Parameters.SameRingAs(t.Parameters)) ThrowHelper.Argument(nameof(t), "The two keys belong to different parameters.");
        var ring = Check(s.Parameters, x);
        int limbs = x.LimbCount, n = ring.N;
        var difference = SecretArrayPool<ulong>.Rent(limbs * n);
        try
        {
            ring.Sub(s.Ntt, t.Ntt, difference, 0, limbs);
            return Product(s.Parameters, difference, x.Data, limbs, sigma);
        }
        finally { SecretArrayPool<ulong>.Return(difference, limbs * n); }
    }

    /// <summary>(s − t)·x_j + e_j for every x_j: the difference is formed once (in scratch that is wiped) for all of them.</summary>
    /// <exception cref="ArgumentException">The keys belong to other parameters, or an x_j is malformed.</exception>
    public static RnsPolynomial[] MultiplyDifferenceAddNoise(SecretKey s, SecretKey t, IReadOnlyList<RnsPolynomial> xs, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(xs);
        if (!s.Parameters.SameRingAs(t.Parameters)) ThrowHelper.Argument(nameof(t), "The two keys belong to different parameters.");
        var ring = s.Parameters.Ring;
        int n = ring.N, most = 0;
        foreach (var x in xs)
        {
            Check(s.Parameters, x);
            most = Math.Max(most, x.LimbCount);
        }
        var difference = SecretArrayPool<ulong>.Rent(most * n);
        try
        {
            ring.Sub(s.Ntt, t.Ntt, difference, 0, most);
            var results = new RnsPolynomial[xs.Count];
            for (int j = 0; j < results.Length; j++)
            {
                results[j] = Product(s.Parameters, difference, xs[j].Data, xs[j].LimbCount, sigma);
            }
            return results;
        }
        finally { SecretArrayPool<ulong>.Return(difference, most * n); }
    }

    /// <summary>A Gaussian polynomial of deviation σ in NTT form over the first <paramref name="limbs"/> primes (noise for an encryption of zero).</summary>
    public static RnsPolynomial Noise(RlweParameters parameters, int limbs, double sigma = Samplers.Sigma)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (limbs < 1 || limbs > parameters.Ring.LimbCount) ThrowHelper.OutOfRange(nameof(limbs), $"1 … {parameters.Ring.LimbCount} limbs; got {limbs}.");
        var result = new RnsPolynomial(parameters.N, limbs);
        Noise(parameters, result.Data, limbs, sigma);
        return result;
    }

    private static RnsRing Check(RlweParameters parameters, ReadOnlySpan<ulong> x, int limbs)
    {
        var ring = parameters.Ring;
        if (limbs < 1 || limbs > ring.LimbCount) ThrowHelper.Argument(nameof(limbs), $"1 … {ring.LimbCount} limbs; got {limbs}.");
        if (x.Length < limbs * ring.N) ThrowHelper.Argument(nameof(x), $"{limbs} limbs need {limbs * ring.N} words; got {x.Length}.");
        for (int l = 0; l < limbs; l++)
        {
            ulong q = ring.Moduli[l].Value;
            foreach (ulong v in x.Slice(l * ring.N, ring.N))
                if (v >= q) ThrowHelper.Argument(nameof(x), $"A coefficient of limb {l} is not below its prime {q}.");
        }
        return ring;
    }

    private static RnsRing Check(RlweParameters parameters, RnsPolynomial x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var ring = parameters.Ring;
        if (x.N != ring.N) ThrowHelper.Argument(nameof(x), $"The polynomial has degree {x.N}, the parameters {ring.N}.");
        if (x.LimbCount < 1 || x.LimbCount > ring.LimbCount) ThrowHelper.Argument(nameof(x), $"The polynomial has {x.LimbCount} limbs; at most {ring.LimbCount}.");
        if (!x.IsNttForm) ThrowHelper.Argument(nameof(x), "The polynomial must be in NTT form.");
        x.CheckReduced(ring.Moduli.Take(x.LimbCount).ToArray(), ring.N, nameof(x));
        return ring;
    }

    // w·x + e over the first limbs primes (x already checked), into a fresh polynomial that the noise fills first.
    private static RnsPolynomial Product(RlweParameters parameters, ReadOnlySpan<ulong> secretNtt, ReadOnlySpan<ulong> x, int limbs, double sigma)
    {
        int n = parameters.N;
        var result = RnsPolynomial.Wrap(n, limbs, GC.AllocateUninitializedArray<ulong>(limbs * n)); // the noise writes every word
        Noise(parameters, result.Data, limbs, sigma);
        parameters.Ring.MulPointwiseAdd(x, secretNtt, result.Data, 0, limbs);
        return result;
    }

    // Fresh noise from the OS random source into destination (NTT form), σ = 3.2 by the constant-time small sampler.
    private static void Noise(RlweParameters parameters, Span<ulong> destination, int limbs, double sigma)
    {
        var ring = parameters.Ring;
        int n = ring.N;
        if (sigma == Samplers.Sigma)
        {
            var small = SecretArrayPool<sbyte>.Rent(n);
            try
            {
                Samplers.Gaussian(SystemRandom.Instance, small.AsSpan(0, n));
                Samplers.SmallToRns(small.AsSpan(0, n), ring, destination, 0, limbs);
            }
            finally { SecretArrayPool<sbyte>.Return(small, n); }
        }
        else
        {
            if (!(sigma >= Samplers.Sigma && sigma <= Samplers.MaxWideSigma)) ThrowHelper.OutOfRange(nameof(sigma), $"σ must be in [3.2, 2^55]; got {sigma}.");
            var wide = SecretArrayPool<long>.Rent(n);
            try
            {
                Samplers.WideGaussian(SystemRandom.Instance, sigma, wide.AsSpan(0, n));
                Samplers.WideToRns(wide.AsSpan(0, n), ring, destination, 0, limbs);
            }
            finally { SecretArrayPool<long>.Return(wide, n); }
        }
        ring.Forward(destination, 0, limbs);
    }
}
