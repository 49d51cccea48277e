using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Arithmetic.Sampling;

namespace Veil.Rlwe;

/// <summary>
/// A secret polynomial in NTT form over Q·P that is not a small key: a Shamir share of a secret key, or such a share
/// times a Lagrange coefficient. Held in pinned memory and wiped on <see cref="Dispose"/>; it enters computations only
/// through <see cref="SecretProducts"/>, which always add noise.
/// </summary>
public sealed class SecretPolynomial : IDisposable
{
    private ulong[] _ntt;
    private bool _disposed;

    internal SecretPolynomial(RlweParameters parameters, ulong[] ntt)
    {
        Parameters = parameters;
        _ntt = ntt;
    }

    /// <summary>The parameters.</summary>
    public RlweParameters Parameters { get; }

    internal ReadOnlySpan<ulong> Ntt { get { if (_disposed) ThrowHelper.Disposed(nameof(SecretPolynomial)); return _ntt; } }

    internal static SecretPolynomial Allocate(RlweParameters parameters) =>
        new(parameters, GC.AllocateArray<ulong>(parameters.Ring.LimbCount * parameters.N, pinned: true));

    /// <summary>
    /// Shamir shares of <paramref name="key"/>: f(x) = s + a_1·x + … + a_(t−1)·x^(t−1) with uniform a_k, evaluated at
    /// each point, prime by prime. Any <paramref name="threshold"/> of them determine s; fewer reveal nothing of it.
    /// </summary>
    /// <exception cref="ArgumentException">A threshold outside [1, points], a point that is 0, repeated, or not below every prime.</exception>
    public static SecretPolynomial[] Share(SecretKey key, int threshold, IReadOnlyList<ulong> points)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(points);
        if (threshold < 1 || threshold > points.Count) ThrowHelper.Argument(nameof(threshold), $"The threshold must be in [1, {points.Count}]; got {threshold}.");
        if (points.Distinct().Count() != points.Count || points.Any(x => x == 0)) ThrowHelper.Argument(nameof(points), "Evaluation points must be distinct and nonzero.");
        var p = key.Parameters;
        var ring = p.Ring;
        int n = ring.N, limbs = ring.LimbCount, len = limbs * n;
        if (points.Any(x => ring.Moduli.Any(m => x >= m.Value))) ThrowHelper.Argument(nameof(points), "Evaluation points must be below every prime.");
        var coefficients = new ulong[threshold - 1][];
        try
        {
            using var prng = new Prng(Prng.NewSeed(), "veil/shamir");
            for (int k = 0; k < coefficients.Length; k++)
            {
                coefficients[k] = GC.AllocateArray<ulong>(len, pinned: true);
                Samplers.Uniform(prng, ring, coefficients[k], 0, limbs);
            }
            var shares = new SecretPolynomial[points.Count];
            var s = key.Ntt;
            try
            {
            for (int i = 0; i < points.Count; i++)
            {
                var share = Allocate(p);
                var dst = share._ntt;
                // Horner: ((a_(t−1)·x + a_(t−2))·x + …)·x + s.
                for (int l = 0; l < limbs; l++)
                {
                    var m = ring.Moduli[l];
                    ulong x = points[i] % m.Value;
                    var d = dst.AsSpan(l * n, n);
                    var sl = s.Slice(l * n, n);
                    for (int c = 0; c < n; c++)
                    {
                        ulong acc = 0;
                        for (int k = coefficients.Length - 1; k >= 0; k--) acc = m.Mul(m.Add(acc, coefficients[k][l * n + c]), x);
                        d[c] = m.Add(acc, sl[c]);
                    }
                }
                shares[i] = share;
            }
            }
            catch
            {
                foreach (var made in shares) made?.Dispose();
                throw;
            }
            return shares;
        }
        finally
        {
            foreach (var c in coefficients) if (c is not null) CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.AsSpan()));
        }
    }

    /// <summary>The sum of several secret polynomials (a party's threshold share from every dealer's share for it).</summary>
    public static SecretPolynomial Sum(IReadOnlyList<SecretPolynomial> terms)
    {
        ArgumentNullException.ThrowIfNull(terms);
        if (terms.Count == 0) ThrowHelper.Argument(nameof(terms), "Nothing to sum.");
        foreach (var t in terms) ArgumentNullException.ThrowIfNull(t, nameof(terms));
        var p = terms[0].Parameters;
        if (terms.Any(t => !t.Parameters.SameRingAs(p))) ThrowHelper.Argument(nameof(terms), "The terms belong to different parameters.");
        var result = Allocate(p);
        int limbs = p.Ring.LimbCount;
        foreach (var t in terms) p.Ring.Add(result._ntt, t.Ntt, result._ntt, 0, limbs);
        return result;
    }

    /// <summary>This polynomial times a constant given by its residue modulo each prime of Q·P (a Lagrange coefficient).</summary>
    public SecretPolynomial MultiplyScalar(ReadOnlySpan<ulong> residues)
    {
        int limbs = Parameters.Ring.LimbCount;
        if (residues.Length != limbs) ThrowHelper.Argument(nameof(residues), $"One residue per prime ({limbs}); got {residues.Length}.");
        var result = Allocate(Parameters);
        Parameters.Ring.MulScalar(Ntt, residues, result._ntt, 0, limbs);
        return result;
    }

    /// <summary>The size of <see cref="CopyTo"/>'s output.</summary>
    public int ByteCount => Parameters.Ring.LimbCount * Parameters.N * sizeof(ulong);

    /// <summary>Writes the share into <paramref name="destination"/> (a pinned buffer the caller wipes) for sealing; see <see cref="FromBytes"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        if (destination.Length < ByteCount) ThrowHelper.Argument(nameof(destination), $"{ByteCount} bytes needed; got {destination.Length}.");
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(Ntt).CopyTo(destination);
    }

    /// <summary>A share from <see cref="CopyTo"/>, every residue checked below its prime.</summary>
    /// <exception cref="ArgumentException">Wrong length or a residue not below its prime.</exception>
    public static SecretPolynomial FromBytes(RlweParameters parameters, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int limbs = parameters.Ring.LimbCount, n = parameters.N;
        if (bytes.Length != limbs * n * 8) ThrowHelper.Argument(nameof(bytes), $"A secret polynomial of these parameters is {limbs * n * 8} bytes; got {bytes.Length}.");
        var result = Allocate(parameters);
        bytes.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result._ntt.AsSpan()));
        for (int l = 0; l < limbs; l++)
        {
            ulong q = parameters.Ring.Moduli[l].Value;
            foreach (var v in result._ntt.AsSpan(l * n, n))
                if (v >= q) { result.Dispose(); ThrowHelper.Argument(nameof(bytes), "A residue is not below its prime."); }
        }
        return result;
    }

    /// <summary>Wipes the polynomial.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_ntt.AsSpan()));
        _ntt = [];
    }
}
