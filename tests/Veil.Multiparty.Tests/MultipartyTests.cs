using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Multiparty.Tests;

/// <summary>Collective keys, decryption and key switching against single-key CKKS; shares refused when they do not belong.</summary>
public class MultipartyTests
{
    // 128-bit at N = 2^13 (log QP = 218), a 50-bit scale so that flooded results keep their precision.
    private static readonly Lazy<CkksParameters> Parameters = new(() => CkksParameters.Create(new CkksParametersLiteral { LogN = 13, LogQ = [60, 50, 50], LogP = [58], LogDefaultScale = 50 }));

    private sealed record Group(MultipartySession Session, MultipartyParty[] Parties, PublicKey PublicKey, RelinearizationKey Relinearization, GaloisKeys Galois) : IDisposable
    {
        public void Dispose() { foreach (var p in Parties) p.Dispose(); }
    }

    private static Group Setup(int n, int budget = 16, int seed = 1)
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, Enumerable.Repeat((byte)seed, 32).ToArray(), n, "test");
        var parties = Enumerable.Range(0, n).Select(i => new MultipartyParty(session, i, budget)).ToArray();
        // Shares arrive in any order.
        var pk = Collective.PublicKey(session, parties.Reverse().Select(x => x.CreatePublicKeyShare()).ToArray());
        var round1 = Collective.RelinearizationRound1(session, parties.Select(x => x.CreateRelinearizationShare1()).ToArray());
        var rlk = Collective.RelinearizationKey(session, round1, parties.Select(x => x.CreateRelinearizationShare2(round1)).ToArray());
        ulong g = GaloisElements.ForRotation(1, p.N);
        var gk = Collective.GaloisKeys(session, parties.Select(x => x.CreateGaloisKeyShare(g)).ToArray());
        return new Group(session, parties, pk, rlk, gk);
    }

    private static (double[] X, double[] Y) Inputs(int seed)
    {
        var rng = new Random(seed);
        int slots = Parameters.Value.Slots;
        return (Enumerable.Range(0, slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), Enumerable.Range(0, slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray());
    }

    private static Ciphertext Compute(PublicKey pk, RelinearizationKey rlk, GaloisKeys gk, double[] x, double[] y) => MultipartyPrecision.Compute(Parameters.Value, pk, rlk, gk, x, y);

    private static double RmsBits(double[] got, double[] x, double[] y) => MultipartyPrecision.RmsBits(got, x, y);

    private static double Bits(double[] got, double[] x, double[] y)
    {
        int n = x.Length;
        double worst = 0;
        for (int i = 0; i < n; i++) worst = Math.Max(worst, Math.Abs(got[i] - x[(i + 1) % n] * y[(i + 1) % n]));
        return -Math.Log2(worst);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void CollectiveKeys_GiveSingleKeyPrecisionWithinOneBit_AndFloodedDecryptionStaysUseful(int n)
    {
        var p = Parameters.Value;
        using var group = Setup(n);
        var (x, y) = Inputs(n);
        var encoder = new CkksEncoder(p);
        var ct = Compute(group.PublicKey, group.Relinearization, group.Galois, x, y);
        var unflooded = Collective.Decrypt(group.Session, ct, group.Parties.Select(q => q.CreateDecryptionShareUnflooded(ct)).ToArray());
        double collectiveBits = RmsBits(encoder.Decode(unflooded), x, y);

        var single = new KeyGenerator(p.Ring);
        var singleCt = Compute(single.CreatePublicKey(), single.CreateRelinearizationKey(), single.CreateGaloisKeys([GaloisElements.ForRotation(1, p.N)]), x, y);
        double singleBits = RmsBits(encoder.Decode(new Decryptor(p.Ring, single.SecretKey).Decrypt(singleCt)), x, y);
        // A collective key's error is the sum of n parties' errors: its deviation grows as √n, so beyond two parties the
        // allowance grows by ½·log2(n/2) bits (2 parties: 1 bit; 7 parties: 1.9 bits).
        double allowance = 1 + 0.5 * Math.Log2(n / 2.0);
        Assert.True(collectiveBits >= singleBits - allowance, $"collective keys give {collectiveBits:F1} bits, a single key {singleBits:F1}");

        var policy = new FloodingPolicy(40, ErrorBits: 10);
        var shares = group.Parties.Select(q => q.CreateDecryptionShare(ct, policy)).ToArray();
        double floodedBits = RmsBits(encoder.Decode(Collective.Decrypt(group.Session, ct, shares)), x, y);
        // σ = √(12·16)·2^20·2^10 = 2^33.8 per party: about 2^-9 of noise per slot at a 2^50 scale, and visibly more than without it.
        Assert.InRange(floodedBits, 5, collectiveBits - 5);
        Assert.All(shares, s => Assert.Equal(policy.SigmaBits(16), s.FloodingBits, 6));
    }

    [Fact]
    public void SharesFromReferencesExpandedBeforehand_BuildTheSameKeys_AndOtherReferencesAreRefused()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, Enumerable.Repeat((byte)5, 32).ToArray(), 3, "expanded");
        var parties = Enumerable.Range(0, 3).Select(i => new MultipartyParty(session, i)).ToArray();
        try
        {
            ulong g = GaloisElements.ForRotation(1, p.N);
            var pkRef = session.ExpandPublicKeyReference();
            var rlkRef = session.ExpandRelinearizationReference();
            var galRef = session.ExpandGaloisReference(g);
            // Wrong kind, another element's a_i, another session's seed: refused before the party spends its one sample.
            var other = new MultipartySession(p.Ring, Enumerable.Repeat((byte)6, 32).ToArray(), 3, "expanded");
            Assert.Throws<ArgumentException>(() => parties[0].CreatePublicKeyShare(rlkRef));
            Assert.Throws<ArgumentException>(() => parties[0].CreatePublicKeyShare(other.ExpandPublicKeyReference()));
            Assert.Throws<ArgumentException>(() => parties[0].CreateRelinearizationShare1(pkRef));
            Assert.Throws<ArgumentException>(() => parties[0].CreateGaloisKeyShare(g, session.ExpandGaloisReference(GaloisElements.ForRotation(2, p.N))));
            Assert.Throws<ArgumentException>(() => parties[0].CreateGaloisKeyShare(g, rlkRef));
            // Parties 0 and 1 use the expanded references, party 2 expands from the seed itself: one key either way.
            var pk = Collective.PublicKey(session, [parties[0].CreatePublicKeyShare(pkRef), parties[1].CreatePublicKeyShare(pkRef), parties[2].CreatePublicKeyShare()]);
            var round1 = Collective.RelinearizationRound1(session, [parties[0].CreateRelinearizationShare1(rlkRef), parties[1].CreateRelinearizationShare1(rlkRef), parties[2].CreateRelinearizationShare1()]);
            var rlk = Collective.RelinearizationKey(session, round1, parties.Select(x => x.CreateRelinearizationShare2(round1)).ToArray());
            var gk = Collective.GaloisKeys(session, [parties[0].CreateGaloisKeyShare(g, galRef), parties[1].CreateGaloisKeyShare(g, galRef), parties[2].CreateGaloisKeyShare(g)]);
            var (x, y) = Inputs(3);
            var ct = Compute(pk, rlk, gk, x, y);
            var got = new CkksEncoder(p).Decode(Collective.Decrypt(session, ct, parties.Select(q => q.CreateDecryptionShareUnflooded(ct)).ToArray()));
            using var reference = Setup(3);
            var refCt = Compute(reference.PublicKey, reference.Relinearization, reference.Galois, x, y);
            double referenceBits = RmsBits(new CkksEncoder(p).Decode(Collective.Decrypt(reference.Session, refCt, reference.Parties.Select(q => q.CreateDecryptionShareUnflooded(refCt)).ToArray())), x, y);
            Assert.True(RmsBits(got, x, y) >= referenceBits - 1, $"{RmsBits(got, x, y):F1} bits against {referenceBits:F1} from seed-expanded shares");
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    [Fact]
    public void SixteenParties_BuildAPublicKey_AndDecryptTogether()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 16);
        var parties = Enumerable.Range(0, 16).Select(i => new MultipartyParty(session, i, 4)).ToArray();
        try
        {
            var pk = Collective.PublicKey(session, parties.Select(q => q.CreatePublicKeyShare()).ToArray());
            var encoder = new CkksEncoder(p);
            double[] v = [0.5, -0.25, 0.125, 1];
            var ct = new Encryptor(p.Ring, pk).Encrypt(encoder.Encode(v));
            var got = encoder.Decode(Collective.Decrypt(session, ct, parties.Select(q => q.CreateDecryptionShare(ct, new FloodingPolicy(40, 8))).ToArray()));
            for (int i = 0; i < v.Length; i++) Assert.Equal(v[i], got[i], 4e-3); // 16 floods of 2^30.8 at a 2^50 scale: about 2^-10.7 a slot
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    [Fact]
    public void PublicKeySwitching_LetsOnlyTheRecipientDecrypt()
    {
        var p = Parameters.Value;
        using var group = Setup(3);
        var (x, y) = Inputs(11);
        var ct = Compute(group.PublicKey, group.Relinearization, group.Galois, x, y);
        var recipient = new KeyGenerator(p.Ring);
        var recipientPk = recipient.CreatePublicKey();
        var policy = new FloodingPolicy(40, 10);
        var switched = Collective.SwitchToPublicKey(group.Session, ct, recipientPk, group.Parties.Select(q => q.CreateKeySwitchShare(ct, recipientPk, policy)).ToArray());
        var encoder = new CkksEncoder(p);
        Assert.True(Bits(encoder.Decode(new Decryptor(p.Ring, recipient.SecretKey).Decrypt(switched)), x, y) > 5);
        var other = new KeyGenerator(p.Ring);
        Assert.Equal(recipientPk.Id, switched.KeyId);
        Assert.Throws<KeyMismatchException>(() => new Decryptor(p.Ring, other.SecretKey).Decrypt(switched));
        // Stripped of its key id, it still decrypts to noise under another key: the key, not the label, protects it.
        var unlabelled = Ciphertext.FromPolynomials(p.Ring, switched.Scale, switched.GetPolynomial(0), switched.GetPolynomial(1));
        Assert.True(Bits(encoder.Decode(new Decryptor(p.Ring, other.SecretKey).Decrypt(unlabelled)), x, y) < 1, "another key decrypted the switched ciphertext");
        // A share made for another recipient is refused.
        var wrong = group.Parties.Select(q => q.CreateKeySwitchShare(ct, other.CreatePublicKey(), policy)).ToArray();
        Assert.Throws<ShareMismatchException>(() => Collective.SwitchToPublicKey(group.Session, ct, recipientPk, wrong));
    }

    [Fact]
    public void SharesThatDoNotBelong_AreRefused_NotSummed()
    {
        var p = Parameters.Value;
        using var group = Setup(3);
        var encoder = new CkksEncoder(p);
        var encryptor = new Encryptor(p.Ring, group.PublicKey);
        var a = encryptor.Encrypt(encoder.Encode([1.0]));
        var b = encryptor.Encrypt(encoder.Encode([2.0]));
        var policy = new FloodingPolicy(40, 8);
        var sharesA = group.Parties.Select(q => q.CreateDecryptionShare(a, policy)).ToArray();
        var sharesB = group.Parties.Select(q => q.CreateDecryptionShare(b, policy)).ToArray();
        // A share of another ciphertext, a replayed share, a missing party.
        Assert.Throws<ShareMismatchException>(() => Collective.Decrypt(group.Session, a, [sharesA[0], sharesA[1], sharesB[2]]));
        Assert.Throws<ShareMismatchException>(() => Collective.Decrypt(group.Session, a, [sharesA[0], sharesA[1], sharesA[1]]));
        var missing = Assert.Throws<ShareMismatchException>(() => Collective.Decrypt(group.Session, a, [sharesA[0], sharesA[2]]));
        Assert.Contains("parties 1", missing.Message);
        // Another session with the same parameters and party numbers.
        using var other = Setup(3, seed: 2);
        var foreign = other.Parties.Select(q => q.CreateDecryptionShare(a, policy)).ToArray();
        Assert.Throws<ShareMismatchException>(() => Collective.Decrypt(group.Session, a, [sharesA[0], sharesA[1], foreign[2]]));
        // Round 2 computed from other round-1 sums (a second group of the same session).
        using var twin = Setup(3);
        var r1 = Collective.RelinearizationRound1(group.Session, group.Parties.Select(q => q.CreateRelinearizationShare1()).ToArray());
        var r1b = Collective.RelinearizationRound1(group.Session, twin.Parties.Select(q => q.CreateRelinearizationShare1()).ToArray());
        var r2 = twin.Parties.Select(q => q.CreateRelinearizationShare2(r1b)).ToArray();
        Assert.Throws<ShareMismatchException>(() => Collective.RelinearizationKey(group.Session, r1, r2));
        Assert.Throws<InvalidOperationException>(() => group.Parties[0].CreateRelinearizationShare2(r1b)); // round 2 is made once
        // Key-generation shares are made once: asking again returns the same share, not a second sample.
        Assert.Same(group.Parties[1].CreatePublicKeyShare(), group.Parties[1].CreatePublicKeyShare());
        Assert.Same(group.Parties[1].CreateGaloisKeyShare(GaloisElements.ForRotation(1, p.N)), group.Parties[1].CreateGaloisKeyShare(GaloisElements.ForRotation(1, p.N)));
        // The flooded result: 3 parties' noise of 2^σ each, seen in a slot with deviation 2^σ·√3·√(N/2)/Δ (3.7e-4 here); six deviations.
        double slotDeviation = Math.Pow(2, policy.SigmaBits(16)) * Math.Sqrt(3) * Math.Sqrt(p.N / 2.0) / Math.Pow(2, 50);
        Assert.Equal(1.0, encoder.Decode(Collective.Decrypt(group.Session, a, sharesA))[0], 6 * slotDeviation);
    }

    [Fact]
    public void DecryptionBudget_IsCountedPerParty_AndFloodingThatDoesNotFitIsRefused()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 2);
        using var party = new MultipartyParty(session, 0, decryptionBudget: 2);
        var ct = new Encryptor(p.Ring, new KeyGenerator(p.Ring).CreatePublicKey()).Encrypt(new CkksEncoder(p).Encode([1.0]));
        party.CreateDecryptionShare(ct);
        party.CreateDecryptionShare(ct);
        Assert.Equal(0, party.DecryptionsRemaining);
        Assert.Throws<DecryptionBudgetExhaustedException>(() => party.CreateDecryptionShare(ct));
        var low = new CkksEvaluator(p).DropToLevel(ct, 0);
        using var fresh = new MultipartyParty(session, 1);
        Assert.Throws<InvalidOperationException>(() => fresh.CreateDecryptionShare(low, new FloodingPolicy(40, 40)));
        Assert.Equal(DecryptionBudget.DefaultLimit, fresh.DecryptionsRemaining); // refused before the budget was spent
        Assert.Throws<ArgumentOutOfRangeException>(() => new FloodingPolicy(20).SigmaBits(1) + (fresh.CreateDecryptionShare(ct, new FloodingPolicy(20)) is null ? 0 : 0));
    }
}
