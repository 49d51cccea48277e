using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Ckks;

/// <summary>Turns RNS coefficients into centered real values (in (−Q/2, Q/2]) without big integers.</summary>
/// <remarks>
/// Garner's algorithm gives mixed-radix digits v_i with x = v_0 + v_1·q_0 + v_2·q_0·q_1 + …; x is past Q/2 exactly
/// when the top digit is (up to a boundary case that only occurs for garbage), and then Q − x has the digits
/// q_i − 1 − v_i plus one, with no borrows. Horner's rule in doubles then loses only rounding.
/// </remarks>
internal static class CrtComposer
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void ToCenteredDoubles(RlweParameters parameters, int limbs, ReadOnlySpan<ulong> data, Span<double> destination)
    {
        var ring = parameters.Ring;
        int n = ring.N;
        var moduli = ring.Moduli;
        // inverses[i][j] = q_j^-1 mod q_i for j < i, with Shoup companions (each is used N times).
        Span<ulong> inverses = stackalloc ulong[limbs * limbs];
        Span<ulong> inverseShoup = stackalloc ulong[limbs * limbs];
        for (int i = 0; i < limbs; i++)
            for (int j = 0; j < i; j++)
            {
                inverses[i * limbs + j] = moduli[i].Inverse(moduli[i].Reduce(moduli[j].Value));
                inverseShoup[i * limbs + j] = moduli[i].ShoupPrecompute(inverses[i * limbs + j]);
            }
        Span<ulong> digits = stackalloc ulong[limbs];
        ulong topHalf = moduli[limbs - 1].Value >> 1;
        for (int c = 0; c < n; c++)
        {
            for (int i = 0; i < limbs; i++)
            {
                var m = moduli[i];
                ulong x = data[i * n + c], q = m.Value;
                for (int j = 0; j < i; j++)
                {
                    // x − v_j + 2q stays positive for any v_j below 2^62; the Shoup product reduces it.
                    x = m.MulShoup(x + 2 * q - m.Reduce(digits[j]), inverses[i * limbs + j], inverseShoup[i * limbs + j]);
                }
                digits[i] = x;
            }
            // Branch-free in the (secret) sign: negative = top digit > q/2, as a 0/1 word and an all-ones mask.
            ulong negative = (topHalf - digits[limbs - 1]) >> 63;
            ulong mask = 0 - negative;
            double value = 0;
            for (int i = limbs - 1; i >= 0; i--)
            {
                ulong v = digits[i], flipped = moduli[i].Value - 1 - v;
                value = value * moduli[i].Value + (v ^ ((v ^ flipped) & mask));
            }
            // value + 1 then negated when negative: (value + neg)·(1 − 2·neg).
            double neg = negative;
            destination[c] = (value + neg) * (1 - 2 * neg);
        }
        digits.Clear();
    }
}
