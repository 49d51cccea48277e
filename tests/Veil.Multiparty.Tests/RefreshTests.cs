using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Multiparty.Tests;

/// <summary>Collective refresh: a low-level ciphertext comes back at the top level with its value, and computation goes on.</summary>
public class RefreshTests
{
    [Fact]
    public void Refresh_BringsALowCiphertextToTheTop_AndTheProductContinues()
    {
        var p = CkksParameters.Create(new CkksParametersLiteral { LogN = 14, LogQ = [60, 60, 45, 45, 45], LogP = [60], LogDefaultScale = 45 });
        var session = new MultipartySession(p.Ring, new byte[32], 3, "refresh");
        var parties = Enumerable.Range(0, 3).Select(i => new MultipartyParty(session, i, decryptionBudget: 16)).ToArray();
        try
        {
            var pk = Collective.PublicKey(session, parties.Select(q => q.CreatePublicKeyShare()).ToArray());
            var r1 = Collective.RelinearizationRound1(session, parties.Select(q => q.CreateRelinearizationShare1()).ToArray());
            var rlk = Collective.RelinearizationKey(session, r1, parties.Select(q => q.CreateRelinearizationShare2(r1)).ToArray());
            var encoder = new CkksEncoder(p);
            var ev = new CkksEvaluator(p, rlk);
            var encryptor = new Encryptor(p.Ring, pk);
            var rng = new Random(3);
            var x = Enumerable.Range(0, p.Slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var y = Enumerable.Range(0, p.Slots).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var cy = encryptor.Encrypt(encoder.Encode(y));
            var xy = ev.Rescale(ev.Relinearize(ev.Multiply(encryptor.Encrypt(encoder.Encode(x)), cy)));
            var low = ev.DropToLevel(xy, 1);
            // |coefficients| ≤ 2^45 · √N · |value| ≈ 2^52: masks of 52 + 40 + 14 bits, inside Q_1 = 2^120 with three parties.
            var policy = new RefreshPolicy(MessageBits: 53);
            var refreshed = CollectiveRefresh.Combine(session, low, parties.Select(q => CollectiveRefresh.CreateShare(q, low, policy)).Reverse().ToArray());
            Assert.Equal(p.MaxLevel, refreshed.Level);
            var again = ev.Rescale(ev.Relinearize(ev.Multiply(refreshed, ev.DropToLevel(cy, refreshed.Level))));
            var got = encoder.Decode(Collective.Decrypt(session, again, parties.Select(q => q.CreateDecryptionShareUnflooded(again)).ToArray()));
            double worst = 0;
            for (int i = 0; i < p.Slots; i++) worst = Math.Max(worst, Math.Abs(got[i] - x[i] * y[i] * y[i]));
            // Each refresh share is smudged at √(12·16)·2^20·4 = 2^25.8: about 2^-12 a slot at a 2^45 scale.
            Assert.True(worst < 1e-2, $"worst error {worst}");
            // Too little room at level 0 for the masks: refused before anything is sent.
            Assert.Throws<InvalidOperationException>(() => CollectiveRefresh.CreateShare(parties[0], ev.DropToLevel(xy, 0), policy));
            // A share of another ciphertext is refused.
            var other = ev.DropToLevel(encryptor.Encrypt(encoder.Encode([0.5])), 1);
            var mixed = parties.Take(2).Select(q => CollectiveRefresh.CreateShare(q, low, policy)).Append(CollectiveRefresh.CreateShare(parties[2], other, policy)).ToArray();
            Assert.Throws<ShareMismatchException>(() => CollectiveRefresh.Combine(session, low, mixed));
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    [Fact]
    public void ThresholdRefresh_WithAnyThreeOfFive_BringsTheCiphertextBack()
    {
        var p = CkksParameters.Create(new CkksParametersLiteral { LogN = 14, LogQ = [60, 60, 45, 45, 45], LogP = [60], LogDefaultScale = 45 });
        var session = new MultipartySession(p.Ring, new byte[32], 5, "threshold refresh");
        var parties = Enumerable.Range(0, 5).Select(i => new MultipartyParty(session, i, decryptionBudget: 4)).ToArray();
        var pk = Collective.PublicKey(session, parties.Select(q => q.CreatePublicKeyShare()).ToArray());
        var dealings = parties.Select(q => q.DealThresholdShares(3)).ToArray();
        var threshold = Enumerable.Range(0, 5).Select(j => ThresholdParty.Combine(parties[j], dealings.Select(d => d[j]).ToArray())).ToArray();
        try
        {
            var encoder = new CkksEncoder(p);
            var ev = new CkksEvaluator(p);
            double[] v = [0.5, -0.25, 0.75];
            var low = ev.DropToLevel(new Encryptor(p.Ring, pk).Encrypt(encoder.Encode(v)), 1);
            int[] set = [1, 3, 4];
            var policy = new RefreshPolicy(MessageBits: 53);
            var refreshed = CollectiveRefresh.CombineThreshold(session, low, set.Select(j => CollectiveRefresh.CreateShare(threshold[j], low, set, policy)).ToArray());
            Assert.Equal(p.MaxLevel, refreshed.Level);
            int[] other = [0, 2, 3];
            var got = encoder.Decode(Collective.DecryptThreshold(session, refreshed, other.Select(j => threshold[j].CreateDecryptionShare(refreshed, other, new FloodingPolicy(40, 8))).ToArray()));
            // Flooding at 2^(½·log2 48 + 20 + 8) = 2^30.8 per party on a 2^45 scale: about 0.008 a slot.
            for (int i = 0; i < v.Length; i++) Assert.Equal(v[i], got[i], 0.05);
            Assert.Throws<ThresholdNotMetException>(() => CollectiveRefresh.CreateShare(threshold[0], low, [0, 1], policy));
        }
        finally
        {
            foreach (var q in parties) q.Dispose();
            foreach (var t in threshold) t.Dispose();
            foreach (var d in dealings.SelectMany(x => x)) d.Dispose();
        }
    }
}
