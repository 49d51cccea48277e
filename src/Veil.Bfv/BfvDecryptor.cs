using System.Buffers;
using System.Numerics;
using System.Security.Cryptography;
using Veil.Arithmetic;
using Veil.Rlwe;

namespace Veil.Bfv;

/// <summary>
/// BFV decryption, m = round(t·[c_0 + c_1·s]_Q / Q) mod t, and the invariant noise budget.
/// </summary>
/// <remarks>
/// <para>The rounding is done in RNS with an auxiliary prime γ (Bajard–Eynard–Hasan–Zucca 2016, as SEAL does): the
/// phase is multiplied by γ·t, quickly converted from Q to {t, γ}, multiplied by −Q^-1, and the γ residue (centered)
/// corrects the t residue. Exact while the noise budget is positive.</para>
/// <para>Noise budget (SEAL's invariant noise budget): with v = [t·(c_0 + c_1·s)]_Q centered, the budget is
/// log2 Q − log2 ‖v‖∞ − 1 bits, 0 when exhausted; decryption is correct while it is positive. It needs the secret
/// key: it is a diagnostic of the key holder. Decrypted intermediate polynomials are wiped.</para>
/// </remarks>
public sealed class BfvDecryptor
{
    private readonly BfvParameters _parameters;
    private readonly Decryptor _decryptor;

    /// <summary>A decryptor with the secret key.</summary>
    public BfvDecryptor(BfvParameters parameters, SecretKey secretKey)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        _decryptor = new Decryptor(parameters.Ring, secretKey);
    }

    /// <summary>The plaintext of a ciphertext (any size: c_0 + c_1·s + c_2·s² …).</summary>
    public BfvPlaintext Decrypt(Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        int level = ciphertext.Level, n = _parameters.N, k = level + 1;
        var tools = _parameters.Level(level);
        var ring = _parameters.Ring.Ring;
        var phase = _decryptor.Decrypt(ciphertext);
        var buffer = phase.Data;
        try
        {
            ring.Inverse(buffer, 0, k);
            var t = _parameters.T;
            var gamma = _parameters.Gamma;
            var result = new ulong[n];
            // z_i = x_i·(γt mod q_i)·(Q/q_i)^-1 mod q_i, then Σ z_i·(Q/q_i) mod t and mod γ.
            for (int i = 0; i < k; i++)
            {
                var m = ring.Moduli[i];
                ulong f = m.Mul(tools.GammaTModQ[i], tools.HatInverse[i]), fs = m.ShoupPrecompute(f);
                var limb = buffer.AsSpan(i * n, n);
                for (int c = 0; c < n; c++) limb[c] = m.MulShoup(limb[c], f, fs);
            }
            ulong halfGamma = gamma.Value >> 1, gammaModT = t.Reduce(gamma.Value);
            var hatT = tools.HatModT; var hatG = tools.HatModGamma;
            for (int c = 0; c < n; c++)
            {
                // Both sums fit 128 bits (at most 64 terms below 2^61 · 2^61).
                UInt128 st = 0, sg = 0;
                for (int i = 0; i < k; i++)
                {
                    ulong z = buffer[i * n + c];
                    st += (UInt128)z * hatT[i];
                    sg += (UInt128)z * hatG[i];
                }
                // Reduce128 wants its input below m·2^64: fold the high word first.
                ulong yt = t.Mul(t.Reduce128(t.Reduce((ulong)(st >> 64)), (ulong)st), tools.NegInverseQModT);
                ulong yg = gamma.Mul(gamma.Reduce128(gamma.Reduce((ulong)(sg >> 64)), (ulong)sg), tools.NegInverseQModGamma);
                // Centre the γ residue without a branch on it: y_γ − γ when above γ/2; result = (y_t − y_γ)·γ^-1 mod t.
                ulong above = 0UL - ((halfGamma - yg) >> 63);
                ulong r = t.Add(t.Sub(yt, t.Reduce(yg)), gammaModT & above);
                result[c] = t.Mul(r, tools.InverseGammaModT);
            }
            return new BfvPlaintext(_parameters, result);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(phase.Data.AsSpan()));
        }
    }

    /// <summary>The invariant noise budget in bits (0: the ciphertext no longer decrypts reliably).</summary>
    public int InvariantNoiseBudget(Ciphertext ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        int level = ciphertext.Level, n = _parameters.N, k = level + 1;
        var tools = _parameters.Level(level);
        var ring = _parameters.Ring.Ring;
        var phase = _decryptor.Decrypt(ciphertext);
        var buffer = SecretArrayPool<ulong>.Rent(k * n);
        try
        {
            phase.Data.AsSpan(0, k * n).CopyTo(buffer);
            ring.Inverse(buffer, 0, k);
            var Q = tools.Modulus;
            var half = Q / 2;
            var hats = Enumerable.Range(0, k).Select(i => Q / ring.Moduli[i].Value * tools.HatInverse[i]).ToArray();
            BigInteger max = 0;
            ulong t = _parameters.PlainModulus;
            for (int c = 0; c < n; c++)
            {
                BigInteger v = 0;
                for (int i = 0; i < k; i++) v += hats[i] * buffer[i * n + c];
                v = v * t % Q;
                if (v > half) v = Q - v;
                if (v > max) max = v;
            }
            double bits = Q.GetBitLength() - (max.IsZero ? 0 : max.GetBitLength()) - 1;
            return (int)Math.Max(0, bits);
        }
        finally
        {
            SecretArrayPool<ulong>.Return(buffer, k * n);
            CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(phase.Data.AsSpan()));
        }
    }
}
