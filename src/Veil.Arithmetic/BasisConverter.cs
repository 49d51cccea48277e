namespace Veil.Arithmetic;

/// <summary>
/// Fast (approximate) RNS basis conversion from primes {a_i} to primes {b_j}:
/// y_j = Σ_i [x_i · Â_i^-1]_{a_i} · Â_i mod b_j, where Â_i = A / a_i.
/// </summary>
/// <remarks>
/// The result equals x + u·A mod b_j for some 0 ≤ u &lt; |{a_i}| (Bajard et al. 2016; Halevi–Polyakov–Shoup 2019);
/// key switching divides that error away. With a single source prime it is exact: y_j = x mod b_j.
/// </remarks>
public sealed class BasisConverter
{
    private readonly Modulus[] _from, _to;
    private readonly ulong[] _hatInv, _hatInvShoup;
    private readonly ulong[] _hatModTo; // [j * from + i] = Â_i mod b_j

    /// <summary>Precomputes the conversion constants.</summary>
    public BasisConverter(IReadOnlyList<Modulus> from, IReadOnlyList<Modulus> to)
    {
        _from = from.ToArray();
        _to = to.ToArray();
        int k = _from.Length;
        _hatInv = new ulong[k];
        _hatInvShoup = new ulong[k];
        _hatModTo = new ulong[k * _to.Length];
        for (int i = 0; i < k; i++)
        {
            ulong hat = 1;
            for (int t = 0; t < k; t++) if (t != i) hat = _from[i].Mul(hat, _from[i].Reduce(_from[t].Value));
            _hatInv[i] = _from[i].Inverse(hat);
            _hatInvShoup[i] = _from[i].ShoupPrecompute(_hatInv[i]);
            for (int j = 0; j < _to.Length; j++)
            {
                ulong h = 1;
                for (int t = 0; t < k; t++) if (t != i) h = _to[j].Mul(h, _to[j].Reduce(_from[t].Value));
                _hatModTo[j * k + i] = h;
            }
        }
    }

    /// <summary>Source primes.</summary>
    public int FromCount => _from.Length;
    /// <summary>Target primes.</summary>
    public int ToCount => _to.Length;

    /// <summary>
    /// Converts N coefficients given as |from| limbs (coefficient form) into |to| limbs.
    /// <paramref name="scratch"/> must hold |from|·N words.
    /// </summary>
    public void Convert(ReadOnlySpan<ulong> source, Span<ulong> destination, Span<ulong> scratch, int n)
    {
        int k = _from.Length;
        if (k == 1)
        {
            // One source prime: the residue is the integer itself, so only reduce it.
            var src = source[..n];
            for (int j = 0; j < _to.Length; j++)
            {
                var m = _to[j];
                var d = destination.Slice(j * n, n);
                if (m.Value > _from[0].Value) src.CopyTo(d);
                else for (int c = 0; c < n; c++) d[c] = m.Reduce(src[c]);
            }
            return;
        }
        for (int i = 0; i < k; i++)
        {
            var m = _from[i];
            var s = source.Slice(i * n, n); var t = scratch.Slice(i * n, n);
            for (int c = 0; c < n; c++) t[c] = m.MulShoup(s[c], _hatInv[i], _hatInvShoup[i]);
        }
        for (int j = 0; j < _to.Length; j++)
        {
            var m = _to[j];
            var d = destination.Slice(j * n, n);
            ReadOnlySpan<ulong> weights = _hatModTo.AsSpan(j * k, k);
            for (int c = 0; c < n; c++)
            {
                // k ≤ 32 terms of < 2^122 each fit a 128-bit accumulator; reduce once.
                UInt128 acc = 0;
                for (int i = 0; i < k; i++) acc += (UInt128)scratch[i * n + c] * weights[i];
                d[c] = ReduceWide(m, acc);
            }
        }
    }

    private static ulong ReduceWide(Modulus m, UInt128 x)
    {
        ulong hi = (ulong)(x >> 64), lo = (ulong)x;
        // Reduce128 needs hi < q; fold the top word first.
        return m.Reduce128(m.Reduce(hi), lo);
    }
}
