using Veil.Ckks;
using Veil.Serialization;
using System.Buffers;
using System.Numerics;
using Veil.Arithmetic;
using Veil.Ckks.Serialization;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ckks.Tests;

/// <summary>
/// The outside review's findings at the CKKS layer: key recovery from decrypted results (IND-CPA-D), decrypted data
/// left in shared pools, and the release budget. Each test is named after the finding it closes.
/// </summary>
public class SecurityReviewTests
{
    private static readonly Lazy<(CkksParameters P, KeyGenerator Keys, PublicKey Pk)> SetA = new(() =>
    {
        var p = CkksParameters.Create(CkksParameters.SetA);
        var keys = new KeyGenerator(p.Ring);
        return (p, keys, keys.CreatePublicKey());
    });

    /// <summary>
    /// The Li–Micciancio attack as the review ran it: a returned real-valued output, re-encoded at scale 2Δ with the
    /// public encoder, is p + σ(p) for p = c0 + c1·s (σ: X → X^−1). In the NTT domain σ pairs slot j with π(j), so two
    /// outputs give, per pair, two linear equations in s_j and s_π(j): the whole key.
    /// </summary>
    private static sbyte[] RecoverKey(CkksParameters p, Ciphertext[] cts, double[][] outputs)
    {
        var ring = p.Ring;
        int n = p.N;
        var m = ring.Ring.Moduli[0];
        var perm = ring.GaloisPermutation(GaloisElements.ForConjugation(n));
        var encoder = new CkksEncoder(p);
        var w = new ulong[2][];
        for (int k = 0; k < 2; k++)
        {
            var q = encoder.Encode(outputs[k], 2 * cts[k].Scale, 0).Data; // NTT form mod q_0: p + σ(p)
            var c0 = cts[k].Poly(0);
            w[k] = new ulong[n];
            for (int j = 0; j < n; j++) w[k][j] = m.Sub(m.Sub(q[j], c0[j]), c0[perm[j]]);
        }
        var sNtt = new ulong[n];
        for (int j = 0; j < n; j++)
        {
            int i = perm[j];
            ulong a = cts[0].Poly(1)[j], b = cts[0].Poly(1)[i], c = cts[1].Poly(1)[j], d = cts[1].Poly(1)[i];
            ulong det = m.Sub(m.Mul(a, d), m.Mul(b, c));
            sNtt[j] = m.Mul(m.Sub(m.Mul(w[0][j], d), m.Mul(b, w[1][j])), m.Inverse(det)); // Cramer's rule
        }
        ring.Ring.Ntt[0].Inverse(sNtt);
        var s = new sbyte[n];
        for (int j = 0; j < n; j++) s[j] = sNtt[j] == 0 ? (sbyte)0 : sNtt[j] == 1 ? (sbyte)1 : sNtt[j] == m.Value - 1 ? (sbyte)-1 : sbyte.MinValue;
        return s;
    }

    private static (Ciphertext[] Cts, double[][] Values) TwoEncryptions(CkksParameters p, PublicKey pk, int seed)
    {
        var rng = new Random(seed);
        var encoder = new CkksEncoder(p);
        var encryptor = new Encryptor(p.Ring, pk);
        var values = new double[2][];
        var cts = new Ciphertext[2];
        for (int k = 0; k < 2; k++)
        {
            values[k] = Enumerable.Range(0, p.Slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            cts[k] = encryptor.Encrypt(encoder.Encode(values[k]));
        }
        return (cts, values);
    }

    [Fact]
    public void KeyRecoveryFromDecryptions_PlainDecryptionGivesTheKey_ReleaseDoesNot()
    {
        var (p, keys, pk) = SetA.Value;
        var truth = keys.SecretKey.Coefficients.ToArray();
        var (cts, _) = TwoEncryptions(p, pk, 1);
        var decryptor = new Decryptor(p.Ring, keys.SecretKey);
        var encoder = new CkksEncoder(p);

        // Plain decryption (what CkksContext.Decrypt returns): the attack recovers every coefficient — so it can fail.
        var plain = cts.Select(ct => encoder.Decode(decryptor.Decrypt(ct))).ToArray();
        Assert.Equal(truth, RecoverKey(p, cts, plain));

        // Release decryption of the same ciphertexts: the flooding leaves nothing to solve for.
        using var key = CloneKey(keys.SecretKey, p);
        key.ReleaseBudget.Restrict(4); // a fresh ciphertext at 2^40 keeps about 3 bits when sized for four releases
        var release = new CkksReleaseDecryptor(p, key);
        var released = cts.Select(ct => release.Decrypt(ct, 0, p.Slots).Values).ToArray();
        var recovered = RecoverKey(p, cts, released);
        int correct = recovered.Zip(truth).Count(t => t.First == t.Second);
        Assert.True(correct < p.N / 100, $"{correct} of {p.N} coefficients recovered from released values");
        // The released values are still the results, to the precision the release reports.
        var (_, values) = TwoEncryptions(p, pk, 1);
        var r = release.Decrypt(cts[0], 0, p.Slots);
        double worst = r.Values.Zip(values[0]).Max(t => Math.Abs(t.First - t.Second));
        Assert.True(worst < 8 * Math.Pow(2, -r.PrecisionBits), $"worst error {worst}, precision {r.PrecisionBits:F1} bits");
    }

    private static SecretKey CloneKey(SecretKey key, CkksParameters p) =>
        RlweSerializer.LoadSecretKey(RlweSerializer.SaveUnprotected(key), p.Ring);

    [Fact]
    public void Release_OfACiphertextUnderAnotherKey_IsRefused_BeforeAnyBudgetIsSpent()
    {
        var (p, keys, pk) = SetA.Value;
        var other = new KeyGenerator(p.Ring);
        var (cts, _) = TwoEncryptions(p, other.CreatePublicKey(), 1);
        using var key = CloneKey(keys.SecretKey, p);
        var release = new CkksReleaseDecryptor(p, key);
        Assert.Throws<KeyMismatchException>(() => release.Decrypt(cts[0], 0, 4));
        Assert.Equal(0, key.ReleaseBudget.Used);
        var (mine, _) = TwoEncryptions(p, pk, 1);
        Assert.Throws<KeyMismatchException>(() => new CkksEvaluator(p).Add(mine[0], cts[0]));
    }

    [Fact]
    public void Release_CountsAgainstTheKeysBudget_RefusesPastIt_AndTheCountTravelsWithTheKey()
    {
        var (p, keys, pk) = SetA.Value;
        using var key = CloneKey(keys.SecretKey, p);
        key.ReleaseBudget.Restrict(3);
        var release = new CkksReleaseDecryptor(p, key);
        var (cts, _) = TwoEncryptions(p, pk, 2);
        var first = release.Decrypt(cts[0], 5, 3);
        Assert.Equal(3, first.Values.Length);
        Assert.Equal(2, first.BudgetRemaining);
        release.Decrypt(cts[1], 0, 1);
        // The key saved now and loaded elsewhere has one release left, not a fresh budget.
        using var reloaded = CloneKey(key, p);
        Assert.Equal(3, reloaded.ReleaseBudget.Limit);
        Assert.Equal(2, reloaded.ReleaseBudget.Used);
        release.Decrypt(cts[0], 0, 1);
        Assert.Throws<DecryptionBudgetExhaustedException>(() => release.Decrypt(cts[0], 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => key.ReleaseBudget.Restrict(4)); // a budget is never raised
        var other = new CkksReleaseDecryptor(p, reloaded);
        other.Decrypt(cts[0], 0, 1);
        Assert.Throws<DecryptionBudgetExhaustedException>(() => other.Decrypt(cts[0], 0, 1));
    }

    [Fact]
    public void Release_FloodingGrowsWithTheBudgetAndSecurity_AndRefusesWhatWouldBeNoise()
    {
        var (p, keys, pk) = SetA.Value;
        using var key = CloneKey(keys.SecretKey, p);
        var (cts, _) = TwoEncryptions(p, pk, 3);
        var loose = new ReleasePolicy { MinimumPrecisionBits = -100 };
        var d40 = new CkksReleaseDecryptor(p, key, loose).Decrypt(cts[0], 0, 4);
        var d60 = new CkksReleaseDecryptor(p, key, new ReleasePolicy { StatisticalSecurity = 60, MinimumPrecisionBits = -100 }).Decrypt(cts[0], 0, 4);
        Assert.Equal(10, d60.FloodingBits - d40.FloodingBits, 6);
        // σ = √(12τ)·2^(s/2)·t exactly, in bits.
        Assert.Equal(0.5 * Math.Log2(12 * 1024) + 20 + d40.ErrorBits, d40.FloodingBits, 9);
        // Where the flooding would leave less than the required precision, nothing is released and nothing counted.
        int used = key.ReleaseBudget.Used;
        Assert.Throws<InvalidOperationException>(() => new CkksReleaseDecryptor(p, key, new ReleasePolicy { MinimumPrecisionBits = 20 }).Decrypt(cts[0], 0, 4));
        Assert.Equal(used, key.ReleaseBudget.Used);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReleasePolicy { StatisticalSecurity = 29 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CkksReleaseDecryptor(p, key, loose).Decrypt(cts[0], p.Slots - 1, 2));
        // With the default budget of 1,024 releases a fresh 2^40 ciphertext keeps no bit: refused, not returned as noise.
        var ex = Assert.Throws<InvalidOperationException>(() => new CkksReleaseDecryptor(p, key).Decrypt(cts[0], 0, 4));
        Assert.Contains("restrict the key's budget", ex.Message);
    }

    [Fact]
    public void ErrorEstimate_FollowsTheImaginaryPartOfTheError()
    {
        // A real message plus an error of known deviation: the estimate is ⌈log2(6σ)⌉ (within one bit of rounding).
        int n = 8192;
        var rng = new Random(4);
        var message = new double[n];
        for (int j = 1; j < n / 2; j++) { message[j] = rng.Next(-1 << 20, 1 << 20); message[n - j] = -message[j]; }
        foreach (double sigma in new[] { 10.0, 1000.0, 1e6 })
        {
            var p = message.Select(v => v + Math.Round(Normal(rng) * sigma)).ToArray();
            double bits = CkksReleaseDecryptor.EstimateErrorBits(p);
            Assert.InRange(bits, Math.Log2(6 * sigma) - 0.2, Math.Log2(6 * sigma) + 1.2);
        }
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Fact]
    public void Decode_LeavesNoDecryptedPolynomialInThePools()
    {
        var ctx = CkksTestContext.Small.Value;
        var p = ctx.Parameters;
        var ct = ctx.Encrypt(CkksTestContext.RandomReals(p.Slots, 5));
        var pt = ctx.Decryptor.Decrypt(ct);
        int limbs = pt.Level + 1, length = limbs * p.N;
        // What the review found: the coefficient form of c0 + c1·s, which with the ciphertext gives s.
        var coefficients = pt.Data.AsSpan(0, length).ToArray();
        for (int j = 0; j < limbs; j++) p.Ring.Ring.Ntt[j].Inverse(coefficients.AsSpan(j * p.N, p.N));
        var encoder = new CkksEncoder(p) { MaxDegreeOfParallelism = 1 };
        encoder.Decode(pt, new Complex[p.Slots]);
        // A same-thread rent from the shared pool gets nothing of it back, and the secret pool hands out zeros.
        var shared = ArrayPool<ulong>.Shared.Rent(length);
        Assert.False(shared.AsSpan(0, p.N).SequenceEqual(coefficients.AsSpan(0, p.N)));
        ArrayPool<ulong>.Shared.Return(shared);
        var secret = SecretArrayPool<ulong>.Rent(length);
        Assert.True(secret.AsSpan().IndexOfAnyExcept(0UL) < 0);
        SecretArrayPool<ulong>.Return(secret);
        var doubles = SecretArrayPool<double>.Rent(p.N);
        Assert.True(doubles.AsSpan().IndexOfAnyExcept(0.0) < 0);
        SecretArrayPool<double>.Return(doubles);
    }

    [Fact]
    public void KeyGeneration_LeavesNoSecretProductsInThePools()
    {
        var ctx = CkksTestContext.Small.Value;
        var ring = ctx.Parameters.Ring;
        int length = ring.Ring.LimbCount * ring.N;
        var keys = new KeyGenerator(ring) { MaxDegreeOfParallelism = 1 };
        keys.CreatePublicKey();          // a·s
        keys.CreateRelinearizationKey(); // s², and a_i·s per digit
        keys.CreateRotationKeys([1]);    // σ(s)
        var scratch = SecretArrayPool<ulong>.Rent(length);
        Assert.True(scratch.AsSpan().IndexOfAnyExcept(0UL) < 0);
        SecretArrayPool<ulong>.Return(scratch);
        var errors = SecretArrayPool<sbyte>.Rent(ring.N);
        Assert.True(errors.AsSpan().IndexOfAnyExcept((sbyte)0) < 0);
        SecretArrayPool<sbyte>.Return(errors);
    }

    [Fact]
    public void Encryption_LeavesNoPartOfItsNoiseInTheSharedPool()
    {
        var ctx = CkksTestContext.Small.Value;
        var ring = ctx.Parameters.Ring;
        var encryptor = new Encryptor(ring, ctx.PublicKey) { MaxDegreeOfParallelism = 1 };
        var pt = ctx.Encoder.Encode(CkksTestContext.RandomReals(ctx.Parameters.Slots, 6));
        encryptor.Encrypt(pt);
        // The division by P's scratch (x's P part, b·u + e mod P) is the array a same-thread rent returns next.
        int scratch = (ring.PCount + 1) * ring.N;
        var array = ArrayPool<ulong>.Shared.Rent(scratch);
        Assert.True(array.AsSpan(0, scratch).IndexOfAnyExcept(0UL) < 0);
        ArrayPool<ulong>.Shared.Return(array);
    }

    [Fact]
    public void SecretKey_IsHeldInPinnedMemory()
    {
        var ctx = CkksTestContext.Small.Value;
        using var key = CloneKey(ctx.KeyGenerator.SecretKey, ctx.Parameters);
        var field = typeof(SecretKey).GetField("_ntt", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        var ntt = (ulong[])field.GetValue(key)!;
        // An array on the pinned object heap reports generation 2 and never moves; its address survives a compacting collection.
        unsafe
        {
            fixed (ulong* before = ntt)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                fixed (ulong* after = ntt) Assert.True(before == after);
            }
        }
        Assert.Equal(2, GC.GetGeneration(ntt));
    }
}

/// <summary>Files written by the last release of format version 1 still load (keys only with the explicit opt-in).</summary>
public class LegacyFormatTests
{
    private static byte[] File(string name) => System.IO.File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Legacy", name));

    [Fact]
    public void Version1Files_StillLoad_AndDecryptToWhatWasEncrypted()
    {
        var p = CkksSerializer.LoadParameters(File("parameters.veil"), minimumSecurity: SecurityLevel.InsecureNoCheck);
        Assert.Equal(1024, p.N);
        using var sk = RlweSerializer.LoadSecretKey(File("secret-key.veil"), p.Ring);
        Assert.Equal(DecryptionBudget.DefaultLimit, sk.ReleaseBudget.Limit);
        var pk = RlweSerializer.LoadPublicKey(File("public-key.veil"), p.Ring);
        var ct = RlweSerializer.LoadCiphertext(File("ciphertext.veil"), p.Ring);
        var values = new CkksEncoder(p).Decode(new Decryptor(p.Ring, sk).Decrypt(ct));
        var expected = Enumerable.Range(0, p.Slots).Select(i => Math.Round(Math.Sin(i) * 1000) / 1000).ToArray();
        Assert.True(values.Zip(expected).Max(t => Math.Abs(t.First - t.Second)) < 1e-4);
        // Re-saved, everything is version 2 and loads again.
        Assert.Equal(2, RlweSerializer.Save(pk)[4]);
        Assert.NotNull(RlweSerializer.LoadCiphertext(RlweSerializer.Save(ct), p.Ring));
    }

    [Fact]
    public void Version1KeySwitchingKeys_LoadOnlyWithTheOptIn_AndStillWork()
    {
        var p = CkksSerializer.LoadParameters(File("parameters.veil"), minimumSecurity: SecurityLevel.InsecureNoCheck);
        Assert.Equal("version", Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadRelinearizationKey(File("relinearization-key.veil"), p.Ring)).Field);
        Assert.Equal("version", Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadGaloisKeys(File("galois-keys.veil"), p.Ring)).Field);
        var legacy = SerializationLimits.Default with { AllowUnboundLegacyKeys = true };
        var rlk = RlweSerializer.LoadRelinearizationKey(File("relinearization-key.veil"), p.Ring, legacy);
        var gk = RlweSerializer.LoadGaloisKeys(File("galois-keys.veil"), p.Ring, legacy);
        using var sk = RlweSerializer.LoadSecretKey(File("secret-key.veil"), p.Ring);
        var ct = RlweSerializer.LoadCiphertext(File("ciphertext.veil"), p.Ring);
        var ev = new CkksEvaluator(p, rlk, gk);
        var result = new CkksEncoder(p).Decode(new Decryptor(p.Ring, sk).Decrypt(ev.Rotate(ev.MultiplyRelinearizeRescale(ct, ct), 3)));
        for (int i = 0; i < 8; i++)
        {
            double x = Math.Round(Math.Sin(i + 3) * 1000) / 1000;
            Assert.True(Math.Abs(result[i] - x * x) < 1e-3, $"slot {i}: {result[i]} vs {x * x}");
        }
        // Re-saved under version 2, they load without the opt-in.
        Assert.NotNull(RlweSerializer.LoadGaloisKeys(RlweSerializer.Save(gk), p.Ring));
    }
}

/// <summary>The smaller findings: the CRT composition without a branch on the sign, and encryption without a noise stream.</summary>
public class SmallerFindingsTests
{
    [Fact]
    public void CrtComposer_IsExactAgainstBigInteger_AtTheSignBoundaryAndBeyond()
    {
        var ctx = CkksTestContext.Small.Value;
        var ring = ctx.Parameters.Ring;
        int n = ring.N, limbs = ring.MaxLevel + 1;
        var q = Enumerable.Range(0, limbs).Select(i => (BigInteger)ring.Q[i]).Aggregate(BigInteger.One, (a, b) => a * b);
        var rng = new Random(11);
        var margin = q / ring.Q[limbs - 1];
        var values = new BigInteger[n];
        for (int c = 0; c < n; c++)
        {
            values[c] = (c % 8) switch
            {
                // The sign comes from the top mixed-radix digit, exact except within Q/q_top of Q/2 (never a decryption).
                0 => 0, 1 => 1, 2 => q - 1, 3 => q / 2 - 2 * margin, 4 => q / 2 + 2 * margin, 5 => q - q / 3,
                _ => new BigInteger(rng.NextInt64()) * new BigInteger(rng.NextInt64()) * rng.Next() % q,
            };
            if (values[c] < 0) values[c] += q;
        }
        var data = new ulong[limbs * n];
        for (int i = 0; i < limbs; i++)
            for (int c = 0; c < n; c++) data[i * n + c] = (ulong)(values[c] % ring.Q[i]);
        var result = new double[n];
        CrtComposer.ToCenteredDoubles(ring, limbs, data, result);
        for (int c = 0; c < n; c++)
        {
            var centered = values[c] > q / 2 ? values[c] - q : values[c];
            double expected = (double)centered;
            Assert.True(Math.Abs(result[c] - expected) <= Math.Abs(expected) * 1e-15, $"coefficient {c}: {result[c]} vs {expected}");
        }
    }

    [Fact]
    public void Encryptor_KeepsNoNoiseStreamBetweenEncryptions()
    {
        // The review: one per-thread AES-CTR stream served 2^20 encryptions, so its key regenerated every earlier u, e0, e1.
        var fields = typeof(Encryptor).GetFields(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Instance |
                                                System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic);
        Assert.DoesNotContain(fields, f => typeof(Veil.Arithmetic.Sampling.RandomSource).IsAssignableFrom(f.FieldType));
        // Two encryptions of one plaintext share nothing.
        var ctx = CkksTestContext.Small.Value;
        var pt = ctx.Encoder.Encode(CkksTestContext.RandomReals(ctx.Parameters.Slots, 12));
        var a = ctx.Encryptor.Encrypt(pt);
        var b = ctx.Encryptor.Encrypt(pt);
        Assert.False(a.Poly(1).SequenceEqual(b.Poly(1)));
    }
}
