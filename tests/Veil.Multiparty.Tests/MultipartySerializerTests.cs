using Veil.Ckks;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Multiparty.Tests;

/// <summary>Every share type through the wire: round trips that still aggregate, and mutated bytes refused with typed errors.</summary>
public class MultipartySerializerTests
{
    private static readonly Lazy<CkksParameters> Parameters = new(() => CkksParameters.Create(new CkksParametersLiteral { LogN = 12, LogQ = [40, 30], LogP = [39], LogDefaultScale = 30 }));

    [Fact]
    public void EveryShare_RoundTrips_AndTheCollectiveObjectsStillWork()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 2, "wire");
        var parties = new[] { new MultipartyParty(session, 0), new MultipartyParty(session, 1) };
        try
        {
            var pk = Collective.PublicKey(session, parties.Select(q => MultipartySerializer.LoadPublicKeyShare(MultipartySerializer.Save(q.CreatePublicKeyShare()), session)).ToArray());
            var r1 = Collective.RelinearizationRound1(session, parties.Select(q => MultipartySerializer.LoadRelinearizationShare1(MultipartySerializer.Save(q.CreateRelinearizationShare1()), session)).ToArray());
            var r1Wire = MultipartySerializer.LoadRelinearizationRound1(MultipartySerializer.Save(r1, p.Ring), session);
            Assert.Equal(r1.Digest, r1Wire.Digest);
            var rlkMemory = Collective.RelinearizationKey(session, r1, parties.Select(q => MultipartySerializer.LoadRelinearizationShare2(MultipartySerializer.Save(q.CreateRelinearizationShare2(r1Wire)), session)).ToArray());
            var rlk = MultipartySerializer.LoadCollectiveRelinearizationKey(MultipartySerializer.Save(rlkMemory), p.Ring);
            var savedKey = MultipartySerializer.Save(rlkMemory);
            savedKey[^5] = 0xFF; savedKey[^6] = 0xFF; savedKey[^7] = 0xFF; savedKey[^8] = 0xFF; savedKey[^1] = 0xFF;
            Assert.Throws<VeilFormatException>(() => MultipartySerializer.LoadCollectiveRelinearizationKey(savedKey, p.Ring));
            Assert.Throws<VeilFormatException>(() => MultipartySerializer.LoadCollectiveRelinearizationKey(MultipartySerializer.Save(rlkMemory)[..^8], p.Ring));
            ulong g = GaloisElements.ForRotation(3, p.N);
            var gk = Collective.GaloisKeys(session, parties.Select(q => MultipartySerializer.LoadGaloisKeyShare(MultipartySerializer.Save(q.CreateGaloisKeyShare(g)), session)).ToArray());
            var encoder = new CkksEncoder(p);
            var ev = new CkksEvaluator(p, rlk, gk);
            var x = new Encryptor(p.Ring, pk).Encrypt(encoder.Encode([0.5, 0.25, 0.75, -0.5]));
            var ct = ev.Rotate(ev.Rescale(ev.Relinearize(ev.Multiply(x, x))), 3);
            var policy = new FloodingPolicy(40, 8);
            var shares = parties.Select(q => MultipartySerializer.LoadDecryptionShare(MultipartySerializer.Save(q.CreateDecryptionShareUnflooded(ct)), session)).ToArray();
            var values = encoder.Decode(Collective.Decrypt(session, ct, shares));
            Assert.Equal(0.25, values[p.Slots - 3], 1e-3);
            var recipient = new KeyGenerator(p.Ring);
            var recipientPk = recipient.CreatePublicKey();
            var fresh = new Encryptor(p.Ring, pk).Encrypt(encoder.Encode([0.5]));
            // Flooding at s = 40 swamps a 2^30 scale, so compare the aggregate of loaded shares with that of the originals.
            var switchShares = parties.Select(q => q.CreateKeySwitchShare(fresh, recipientPk, policy)).ToArray();
            var switched = Collective.SwitchToPublicKey(session, fresh, recipientPk, switchShares.Select(s => MultipartySerializer.LoadKeySwitchShare(MultipartySerializer.Save(s), session)).ToArray());
            Assert.Equal(Collective.SwitchToPublicKey(session, fresh, recipientPk, switchShares).Data, switched.Data);
            // A share of this session loaded into another one is refused at the envelope or the session id.
            var other = new MultipartySession(p.Ring, new byte[32], 2, "other");
            Assert.Equal("session", Assert.Throws<VeilFormatException>(() => MultipartySerializer.LoadPublicKeyShare(MultipartySerializer.Save(parties[0].CreatePublicKeyShare()), other)).Field);
            var three = new MultipartySession(p.Ring, new byte[32], 3, "wire");
            Assert.Throws<VeilFormatException>(() => MultipartySerializer.LoadDecryptionShare(MultipartySerializer.Save(shares[1]), three));
        }
        finally { foreach (var q in parties) q.Dispose(); }
    }

    private static readonly Veil.Tests.Shared.TestProtector Protector = new();

    private static ThresholdRefreshShare ThresholdRefresh(MultipartySession session, MultipartyParty party, Ciphertext ct)
    {
        using var partner = new MultipartyParty(session, 0);
        var dealings = new[] { partner.DealThresholdShares(2)[1], party.DealThresholdShares(2)[1] };
        using var threshold = ThresholdParty.Combine(party, dealings);
        return CollectiveRefresh.CreateShare(threshold, ct, [0, 1], new RefreshPolicy(1));
    }

    // A 2-of-2 threshold share of party 1, from both parties' dealings.
    private static ThresholdDecryptionShare ThresholdShare(MultipartySession session, MultipartyParty party, Ciphertext ct)
    {
        using var partner = new MultipartyParty(session, 0);
        var dealings = new[] { partner.DealThresholdShares(2)[1], party.DealThresholdShares(2)[1] };
        using var threshold = ThresholdParty.Combine(party, dealings);
        return threshold.CreateDecryptionShare(ct, [0, 1], new FloodingPolicy(40, 8));
    }

    [Fact]
    public void Loaders_RefuseMutatedShares_WithTypedErrorsOnly()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 2);
        using var party = new MultipartyParty(session, 1);
        var encoder = new CkksEncoder(p);
        var ct = new Encryptor(p.Ring, new KeyGenerator(p.Ring).CreatePublicKey()).Encrypt(encoder.Encode([1.0]));
        var share1 = party.CreateRelinearizationShare1();
        var partner = new MultipartyParty(session, 0);
        var round1 = Collective.RelinearizationRound1(session, [share1, partner.CreateRelinearizationShare1()]);
        var r2 = party.CreateRelinearizationShare2(round1);
        var rlk = Collective.RelinearizationKey(session, round1, [r2, partner.CreateRelinearizationShare2(round1)]);
        var recipient = new KeyGenerator(p.Ring).CreatePublicKey();
        var samples = new (string Name, byte[] Bytes, Action<byte[]> Load)[]
        {
            ("public-key share", MultipartySerializer.Save(party.CreatePublicKeyShare()), b => MultipartySerializer.LoadPublicKeyShare(b, session)),
            ("relinearization share 1", MultipartySerializer.Save(share1), b => MultipartySerializer.LoadRelinearizationShare1(b, session)),
            ("round-1 sums", MultipartySerializer.Save(round1, p.Ring), b => MultipartySerializer.LoadRelinearizationRound1(b, session)),
            ("relinearization share 2", MultipartySerializer.Save(r2), b => MultipartySerializer.LoadRelinearizationShare2(b, session)),
            ("Galois share", MultipartySerializer.Save(party.CreateGaloisKeyShare(GaloisElements.ForRotation(1, p.N))), b => MultipartySerializer.LoadGaloisKeyShare(b, session)),
            ("decryption share", MultipartySerializer.Save(party.CreateDecryptionShare(ct, new FloodingPolicy(40, 8))), b => MultipartySerializer.LoadDecryptionShare(b, session)),
            ("key-switch share", MultipartySerializer.Save(party.CreateKeySwitchShare(ct, recipient, new FloodingPolicy(40, 8))), b => MultipartySerializer.LoadKeySwitchShare(b, session)),
            ("threshold share", MultipartySerializer.Save(ThresholdShare(session, party, ct)), b => MultipartySerializer.LoadThresholdDecryptionShare(b, session)),
            ("session", MultipartySerializer.Save(session, 30), b => MultipartySerializer.LoadSession(b)),
            ("refresh share", MultipartySerializer.Save(CollectiveRefresh.CreateShare(party, ct, new RefreshPolicy(1))), b => MultipartySerializer.LoadRefreshShare(b, session)),
            ("threshold refresh share", MultipartySerializer.Save(ThresholdRefresh(session, party, ct)), b => MultipartySerializer.LoadThresholdRefreshShare(b, session)),
            ("sealed dealing", MultipartySerializer.Save(party.DealThresholdShares(2)[0], Protector), b => MultipartySerializer.LoadThresholdDealing(b, session, Protector)),
            ("sealed party state", party.Save(Protector), b => MultipartyParty.Load(session, b, Protector)),
            ("relinearization key", MultipartySerializer.Save(rlk), b => MultipartySerializer.LoadCollectiveRelinearizationKey(b, p.Ring)),
        };
        var rng = new Random(15);
        foreach (var (name, original, load) in samples)
        {
            load(original);
            int accepted = 0;
            for (int t = 0; t < 500; t++)
            {
                var b = (byte[])original.Clone();
                switch (rng.Next(5))
                {
                    case 0: b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: b = b[..rng.Next(b.Length)]; break;
                    case 2: b = [.. b, .. new byte[rng.Next(1, 64)]]; break;
                    case 3: b[rng.Next(Math.Min(b.Length, 140))] = (byte)rng.Next(256); break; // header and share fields
                    default: for (int i = 0; i < 8; i++) b[rng.Next(b.Length)] = 0xFF; break; // residues past every prime
                }
                try { load(b); accepted++; }
                catch (VeilFormatException) { }
                catch (System.Security.Cryptography.CryptographicException) when (name.StartsWith("sealed", StringComparison.Ordinal)) { } // the seal refuses first
                catch (Exception e) { Assert.Fail($"{name}: {e.GetType().Name} instead of VeilFormatException: {e.Message}"); }
            }
            // A flipped low bit of a residue can leave a valid residue: such a share loads, then spoils its sum.
            Assert.True(accepted < 400, $"{name}: {accepted} of 500 mutations accepted");
        }
    }

    [Fact]
    public void Shares_AreResiduePacked_AndTheEarlierWordLayoutStillLoads()
    {
        var p = Parameters.Value;
        var session = new MultipartySession(p.Ring, new byte[32], 2, "packed");
        using var party = new MultipartyParty(session, 1);
        var share = party.CreatePublicKeyShare();
        var saved = MultipartySerializer.Save(share);
        // 40 + 30 + 39 bits a coefficient instead of 3 × 64, beside the 64-byte header and the session id and party.
        long packed = (40 + 30 + 39) * (long)p.N / 8;
        Assert.Equal(VeilHeader.Size + 32 + 2 + packed, saved.Length);
        Assert.Equal(share.B.Data, MultipartySerializer.LoadPublicKeyShare(saved, session).B.Data);

        // The same share in 64-bit words (the layout written before residue packing).
        var words = new byte[32 + 2 + share.B.Data.Length * 8];
        var w = new PayloadWriter(words);
        w.WriteBytes(session.Id);
        w.WriteUInt16(1);
        w.WriteCoefficients(share.B.Data);
        w.EnsureFull();
        var legacy = VeilEnvelope.Pack(MultipartySerializer.PublicKeyShareType, p.Ring.Hash.Span, words, Compression.None);
        Assert.Equal(share.B.Data, MultipartySerializer.LoadPublicKeyShare(legacy, session).B.Data);
        // Any other length of polynomials is refused by name.
        var odd = VeilEnvelope.Pack(MultipartySerializer.PublicKeyShareType, p.Ring.Hash.Span, words[..^5], Compression.None);
        Assert.Equal("publicKeyShare", Assert.Throws<VeilFormatException>(() => MultipartySerializer.LoadPublicKeyShare(odd, session)).Field);

        // A decryption share packs the ciphertext's limbs of Q only (40 + 30 bits).
        var encoder = new CkksEncoder(p);
        var ct = new Encryptor(p.Ring, new KeyGenerator(p.Ring).CreatePublicKey()).Encrypt(encoder.Encode([1.0]));
        var dec = MultipartySerializer.Save(party.CreateDecryptionShare(ct, new FloodingPolicy(40, 8)));
        Assert.Equal(VeilHeader.Size + 32 + 2 + 32 + 2 + 8 + (40 + 30L) * p.N / 8, dec.Length);
    }
}
