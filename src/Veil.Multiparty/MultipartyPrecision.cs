using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Multiparty;

/// <summary>What <see cref="MultipartyPrecision.Measure"/> found, as −log2 of the RMS slot error of x·y.</summary>
/// <param name="SingleKeyBits">The same computation under one ordinary key, decrypted by its holder.</param>
/// <param name="CollectiveBits">Collective keys, decrypted collectively with key-generation noise only (what the keys themselves cost).</param>
/// <param name="FloodedBits">Collective keys, decrypted collectively with each party's flooding.</param>
/// <param name="SigmaBits">log2 of each party's flooding deviation.</param>
/// <param name="Parties">Parties.</param>
/// <param name="Seconds">Key generation, computation and decryptions.</param>
public sealed record MultipartyPrecisionReport(double SingleKeyBits, double CollectiveBits, double FloodedBits, double SigmaBits, int Parties, double Seconds);

/// <summary>
/// A self-check of the multiparty protocols on CKKS: n parties build every collective key, a product x·y is relinearized,
/// rescaled and rotated under them, and decrypted collectively with and without flooding, beside a single-key twin.
/// </summary>
public static class MultipartyPrecision
{
    /// <summary>Runs the check on <paramref name="parameters"/> with <paramref name="parties"/> parties, each with a budget of <paramref name="budget"/> decryptions.</summary>
    public static MultipartyPrecisionReport Measure(CkksParameters parameters, int parties, FloodingPolicy policy, int budget = 16, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(policy);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var session = new MultipartySession(parameters.Ring, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), parties, "precision");
        var group = Enumerable.Range(0, parties).Select(i => new MultipartyParty(session, i, budget)).ToArray();
        try
        {
            var pk = Collective.PublicKey(session, group.Select(q => q.CreatePublicKeyShare()).ToArray());
            var r1 = Collective.RelinearizationRound1(session, group.Select(q => q.CreateRelinearizationShare1()).ToArray());
            var rlk = Collective.RelinearizationKey(session, r1, group.Select(q => q.CreateRelinearizationShare2(r1)).ToArray());
            ulong g = GaloisElements.ForRotation(1, parameters.N);
            var gk = Collective.GaloisKeys(session, group.Select(q => q.CreateGaloisKeyShare(g)).ToArray());
            var rng = new Random(seed);
            var x = Enumerable.Range(0, parameters.Slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var y = Enumerable.Range(0, parameters.Slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var encoder = new CkksEncoder(parameters);
            var ct = Compute(parameters, pk, rlk, gk, x, y);
            double collective = RmsBits(encoder.Decode(Collective.Decrypt(session, ct, group.Select(q => q.CreateDecryptionShareUnflooded(ct)).ToArray())), x, y);
            var shares = group.Select(q => q.CreateDecryptionShare(ct, policy)).ToArray();
            double flooded = RmsBits(encoder.Decode(Collective.Decrypt(session, ct, shares)), x, y);
            var single = new KeyGenerator(parameters.Ring);
            var singleCt = Compute(parameters, single.CreatePublicKey(), single.CreateRelinearizationKey(), single.CreateGaloisKeys([g]), x, y);
            double singleBits = RmsBits(encoder.Decode(new Decryptor(parameters.Ring, single.SecretKey).Decrypt(singleCt)), x, y);
            single.SecretKey.Dispose();
            return new MultipartyPrecisionReport(singleBits, collective, flooded, shares[0].FloodingBits, parties, clock.Elapsed.TotalSeconds);
        }
        finally { foreach (var q in group) q.Dispose(); }
    }

    /// <summary>x·y relinearized, rescaled and rotated by one slot.</summary>
    internal static Ciphertext Compute(CkksParameters p, PublicKey pk, RelinearizationKey rlk, GaloisKeys gk, double[] x, double[] y)
    {
        var encoder = new CkksEncoder(p);
        var encryptor = new Encryptor(p.Ring, pk);
        var ev = new CkksEvaluator(p, rlk, gk);
        var product = ev.Multiply(encryptor.Encrypt(encoder.Encode(x)), encryptor.Encrypt(encoder.Encode(y)));
        ev.Relinearize(product, product);
        ev.Rescale(product, product);
        return ev.Rotate(product, 1);
    }

    /// <summary>−log2 of the RMS error of <paramref name="got"/> against x·y rotated by one slot.</summary>
    internal static double RmsBits(double[] got, double[] x, double[] y)
    {
        int n = x.Length;
        double sum = 0;
        for (int i = 0; i < n; i++) { double d = got[i] - x[(i + 1) % n] * y[(i + 1) % n]; sum += d * d; }
        return -0.5 * Math.Log2(sum / n);
    }
}
