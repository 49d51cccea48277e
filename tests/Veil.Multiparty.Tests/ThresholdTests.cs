using Veil.Tests.Shared;
using System.Security.Cryptography;
using Veil.Ckks;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Multiparty.Tests;

/// <summary>t-of-n: every subset of size t decrypts, fewer than t get a clear error, dealings travel sealed, sets are bound.</summary>
public class ThresholdTests
{
    private static readonly Lazy<CkksParameters> Parameters = new(() => CkksParameters.Create(new CkksParametersLiteral { LogN = 13, LogQ = [60, 50, 50], LogP = [58], LogDefaultScale = 50 }));

    private static (MultipartySession Session, PublicKey Pk, ThresholdParty[] Parties) Setup(int n, int t)
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, RandomNumberGenerator.GetBytes(32), n, "threshold");
        var parties = Enumerable.Range(0, n).Select(i => new MultipartyParty(session, i, decryptionBudget: 64)).ToArray();
        var pk = Collective.PublicKey(session, parties.Select(q => q.CreatePublicKeyShare()).ToArray());
        var protector = new TestProtector();
        // Every dealer seals one dealing per recipient; each recipient opens its own and combines them.
        var sealedFor = new List<byte[]>[n];
        for (int j = 0; j < n; j++) sealedFor[j] = [];
        foreach (var q in parties)
            foreach (var d in q.DealThresholdShares(t))
                using (d) sealedFor[d.Recipient].Add(MultipartySerializer.Save(d, protector));
        var threshold = Enumerable.Range(0, n).Select(j =>
        {
            var dealings = sealedFor[j].Select(b => MultipartySerializer.LoadThresholdDealing(b, session, protector)).ToArray();
            try { return ThresholdParty.Combine(parties[j], dealings); }
            finally { foreach (var d in dealings) d.Dispose(); }
        }).ToArray();
        foreach (var q in parties) q.Dispose(); // the n-of-n shares are no longer needed; their budgets live on in the threshold parties
        return (session, pk, threshold);
    }

    private static IEnumerable<int[]> Subsets(int n, int k)
    {
        for (int mask = 0; mask < 1 << n; mask++)
            if (System.Numerics.BitOperations.PopCount((uint)mask) == k)
                yield return [.. Enumerable.Range(0, n).Where(i => (mask >> i & 1) == 1)];
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void EverySubsetOfSizeT_OfFiveParties_Decrypts(int t)
    {
        var p = Parameters.Value;
        var (session, pk, parties) = Setup(5, t);
        try
        {
            var encoder = new CkksEncoder(p);
            double[] v = [0.5, -0.75, 0.125];
            var ct = new Encryptor(p.Ring, pk).Encrypt(encoder.Encode(v));
            var policy = new FloodingPolicy(40, 8);
            int subsets = 0;
            foreach (var set in Subsets(5, t))
            {
                var shares = set.Select(j => MultipartySerializer.LoadThresholdDecryptionShare(MultipartySerializer.Save(parties[j].CreateDecryptionShare(ct, set, policy)), session)).ToArray();
                var got = encoder.Decode(Collective.DecryptThreshold(session, ct, shares));
                for (int i = 0; i < v.Length; i++) Assert.Equal(v[i], got[i], 1e-2);
                subsets++;
            }
            Assert.Equal(t == 3 ? 10 : 5, subsets);
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    [Fact]
    public void BelowTheThreshold_NothingDecrypts_AndSetsAreBound()
    {
        var p = Parameters.Value;
        var (session, pk, parties) = Setup(5, 3);
        try
        {
            var encoder = new CkksEncoder(p);
            var ct = new Encryptor(p.Ring, pk).Encrypt(encoder.Encode([0.5]));
            var policy = new FloodingPolicy(40, 8);
            var ex = Assert.Throws<ThresholdNotMetException>(() => parties[0].CreateDecryptionShare(ct, [0, 1], policy));
            Assert.Contains("threshold is 3", ex.Message);
            int[] set = [0, 2, 4];
            var shares = set.Select(j => parties[j].CreateDecryptionShare(ct, set, policy)).ToArray();
            // Two of three: refused; a share made for another set: refused; a sender outside the set: refused.
            Assert.Throws<ShareMismatchException>(() => Collective.DecryptThreshold(session, ct, shares[..2]));
            var other = parties[4].CreateDecryptionShare(ct, [0, 1, 4], policy);
            Assert.Throws<ShareMismatchException>(() => Collective.DecryptThreshold(session, ct, [shares[0], shares[1], other]));
            Assert.Throws<ShareMismatchException>(() => Collective.DecryptThreshold(session, ct, [shares[0], shares[1], shares[1]]));
            Assert.Throws<ArgumentException>(() => parties[1].CreateDecryptionShare(ct, set, policy));
            Assert.Equal(0.5, encoder.Decode(Collective.DecryptThreshold(session, ct, shares))[0], 1e-2);
            // A dealing opened with the wrong protector, or bytes that are not sealed for it.
            var dealing = new MultipartyParty(session, 0).DealThresholdShares(3)[1];
            var sealedDealing = MultipartySerializer.Save(dealing, new TestProtector());
            Assert.ThrowsAny<CryptographicException>(() => MultipartySerializer.LoadThresholdDealing(sealedDealing, session, new TestProtector()));
            var clear = new byte[dealing.Share.ByteCount];
            dealing.Share.CopyTo(clear);
            Assert.DoesNotContain(Convert.ToHexString(clear[..32]), Convert.ToHexString(sealedDealing));
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    [Fact]
    public void DealingsAndSharesOfTwoRounds_DoNotMix()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 3, "rounds");
        var parties = Enumerable.Range(0, 3).Select(i => new MultipartyParty(session, i)).ToArray();
        try
        {
            var pk = Collective.PublicKey(session, parties.Select(q => q.CreatePublicKeyShare()).ToArray());
            var first = parties.Select(q => q.DealThresholdShares(2, "2026-12")).ToArray();
            var second = parties.Select(q => q.DealThresholdShares(2, "2027-01")).ToArray();
            Assert.Throws<ShareMismatchException>(() => ThresholdParty.Combine(parties[0], [first[0][0], first[1][0], second[2][0]]));
            using var a = ThresholdParty.Combine(parties[0], first.Select(d => d[0]).ToArray());
            using var b = ThresholdParty.Combine(parties[1], second.Select(d => d[1]).ToArray());
            var ct = new Encryptor(p.Ring, pk).Encrypt(new CkksEncoder(p).Encode([0.5]));
            var policy = new FloodingPolicy(40, 8);
            int[] set = [0, 1];
            Assert.Throws<ShareMismatchException>(() => Collective.DecryptThreshold(session, ct, [a.CreateDecryptionShare(ct, set, policy), b.CreateDecryptionShare(ct, set, policy)]));
            foreach (var d in first.Concat(second).SelectMany(x => x)) d.Dispose();
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    [Fact]
    public void SavedPartyState_KeepsItsBudgetAndRefusesASecondKeySample()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 2, "state");
        var protector = new TestProtector();
        byte[] saved;
        using (var party = new MultipartyParty(session, 1, decryptionBudget: 3))
        {
            party.CreatePublicKeyShare();
            party.CreateRelinearizationShare1();
            var ct = new Encryptor(p.Ring, new KeyGenerator(p.Ring).CreatePublicKey()).Encrypt(new CkksEncoder(p).Encode([1.0]));
            party.CreateDecryptionShare(ct, new FloodingPolicy(40, 8));
            saved = party.Save(protector);
        }
        using var loaded = MultipartyParty.Load(session, saved, protector);
        Assert.Equal(1, loaded.Index);
        Assert.Equal(2, loaded.DecryptionsRemaining);
        Assert.Throws<InvalidOperationException>(() => loaded.CreatePublicKeyShare());
        Assert.Throws<InvalidOperationException>(() => loaded.CreateRelinearizationShare1());
        // Its ephemeral key came through: round 2 works once.
        using var other = new MultipartyParty(session, 0);
        var r1 = Collective.RelinearizationRound1(session, [other.CreateRelinearizationShare1(), MultipartySerializer.LoadRelinearizationShare1(MultipartySerializer.Save(RelinearizationShareOf(loaded)), session)]);
        loaded.CreateRelinearizationShare2(r1);
        Assert.ThrowsAny<CryptographicException>(() => MultipartyParty.Load(session, saved, new TestProtector()));
        Assert.Throws<Veil.Serialization.VeilFormatException>(() => MultipartyParty.Load(new MultipartySession(p.Ring, new byte[32], 2, "another"), saved, protector));
    }

    // The loaded party cannot make its round-1 share again; for the sums, a stand-in of the right shape is enough.
    private static RelinearizationShare1 RelinearizationShareOf(MultipartyParty party)
    {
        using var standIn = new MultipartyParty(party.Session, party.Index);
        return standIn.CreateRelinearizationShare1();
    }
}
