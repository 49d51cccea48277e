using Veil.Serialization;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using Veil.Arithmetic;
using Veil.Rlwe.Serialization;

namespace Veil.Rlwe.Tests.Serialization;

/// <summary>
/// The outside review's findings at the RLWE layer, each by name: the parameter downgrade, decompression bombs and
/// keys relabelled to another kind or Galois element.
/// </summary>
public sealed class SecurityReviewSerializationTests(SerializationFixture fixture) : IClassFixture<SerializationFixture>
{
    private RlweParameters P => fixture.Parameters;

    private static VeilFormatException Rejects(string field, Action load)
    {
        var e = Assert.Throws<VeilFormatException>(load);
        Assert.Equal(field, e.Field);
        return e;
    }

    // ------------------------------------------------------------------ 1. parameter downgrade

    [Fact]
    public void ParameterDowngrade_ReviewReproducer_IsRefusedByDefault()
    {
        // 93 bytes: N = 1024, security field 0 (InsecureNoCheck), primes far beyond the 27-bit bound.
        var bytes = Convert.FromHexString(
            "5645494C010001000000000000000000000000000000000000000000000000000000000000000000250000000000000025000000000000000A0000030178FFFFFF0000000170FFFFFF00000001F8FEFFFF0000000101C0FFFFFFFF0300");
        var e = Rejects("security", () => RlweSerializer.LoadParameters(bytes));
        Assert.Contains("InsecureNoCheck", e.Message);
        Rejects("security", () => RlweSerializer.LoadParameters(new MemoryStream(bytes)));
        // The receiver's own opt-out is the only way in.
        Assert.Equal(SecurityLevel.InsecureNoCheck, RlweSerializer.LoadParameters(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck).Security);
    }

    [Theory]
    [InlineData(SecurityLevel.Bits128, SecurityLevel.Bits192, true)]
    [InlineData(SecurityLevel.Bits192, SecurityLevel.Bits128, false)]
    [InlineData(SecurityLevel.Bits256, SecurityLevel.Bits256, false)]
    public void ParameterDowngrade_ALevelBelowTheReceiversMinimum_IsRefused(SecurityLevel declared, SecurityLevel minimum, bool refused)
    {
        // N = 8192 with 100 bits of Q·P passes all three bounds (218 / 152 / 118), so only the declared level decides.
        var q = Primes.NttPrimes(40, 13, 1);
        var p = RlweParameters.Create(13, q, Primes.NttPrimes(60, 13, 1), declared);
        var bytes = RlweSerializer.Save(p);
        if (refused) Rejects("security", () => RlweSerializer.LoadParameters(bytes, minimumSecurity: minimum));
        else Assert.Equal(declared, RlweSerializer.LoadParameters(bytes, minimumSecurity: minimum).Security);
    }

    [Fact]
    public void ParameterDowngrade_ClaimingMoreThanThePrimesMeet_IsRefused()
    {
        // 170 bits of Q·P at N = 1024 (bound 27): declaring 128 bits does not make it so.
        var q = Primes.NttPrimes(60, 10, 2);
        var p = RlweParameters.Create(10, q, Primes.NttPrimes(50, 10, 1), SecurityLevel.InsecureNoCheck);
        var bytes = RlweSerializer.Save(p);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(VeilHeader.Size + 1), 128);
        Rejects("parameters", () => RlweSerializer.LoadParameters(bytes));
    }

    [Fact]
    public void ParameterHash_CoversTheSecurityLevel()
    {
        var q = Primes.NttPrimes(40, 13, 2);
        var pp = Primes.NttPrimes(60, 13, 1);
        var at128 = RlweParameters.Create(13, q, pp, SecurityLevel.Bits128);
        var unchecked_ = RlweParameters.Create(13, q, pp, SecurityLevel.InsecureNoCheck);
        Assert.False(at128.Hash.Span.SequenceEqual(unchecked_.Hash.Span));
        Assert.False(at128.SameRingAs(unchecked_));
        // An object made under the unchecked set does not load under the checked one, nor the reverse.
        var ct = new Ciphertext(unchecked_, unchecked_.MaxLevel);
        Rejects("parameters", () => RlweSerializer.LoadCiphertext(RlweSerializer.Save(ct), at128));
    }

    // ------------------------------------------------------------------ 4. decompression bombs

    /// <summary>Header ‖ a Brotli stream of <paramref name="zeros"/> zero bytes, framed as <paramref name="kind"/> of P.</summary>
    private byte[] Bomb(ObjectKind kind, int zeros, RlweParameters? parameters = null, Compression compression = Compression.Brotli)
    {
        var hash = kind == ObjectKind.Parameters ? new byte[32] : (parameters ?? P).Hash.ToArray();
        return VeilEnvelope.Pack(RlweObjectTypes.Of(kind), hash, new byte[zeros], compression);
    }

    private static void RefusedCheaply(Action load, string field)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        Rejects(field, load);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 4 << 20, $"{allocated} bytes allocated before refusing");
        Assert.True(clock.ElapsedMilliseconds < 1000, $"{clock.ElapsedMilliseconds} ms before refusing");
    }

    [Fact]
    public void DecompressionBomb_LargerThanTheKindCanBe_IsRefusedFromTheHeader()
    {
        // 64 MiB of zeros is a few KB of Brotli; no ciphertext, key or parameter set of P is that large.
        var bomb = Bomb(ObjectKind.Ciphertext, 64 << 20);
        Assert.True(bomb.Length < 64 << 10, $"{bomb.Length} bytes");
        RefusedCheaply(() => RlweSerializer.LoadCiphertext(bomb, P), "payloadLength");
        RefusedCheaply(() => RlweSerializer.LoadCiphertext(new MemoryStream(bomb), P), "payloadLength");
        RefusedCheaply(() => RlweSerializer.LoadParameters(Bomb(ObjectKind.Parameters, 1 << 20), minimumSecurity: SecurityLevel.InsecureNoCheck), "payloadLength");
        RefusedCheaply(() => RlweSerializer.LoadSecretKey(Bomb(ObjectKind.SecretKey, 1 << 20), P), "payloadLength");
        RefusedCheaply(() => RlweSerializer.LoadPublicKey(Bomb(ObjectKind.PublicKey, 1 << 20, compression: Compression.ZLib), P), "payloadLength");
        RefusedCheaply(() => RlweSerializer.LoadRelinearizationKey(Bomb(ObjectKind.RelinearizationKey, 1 << 20), P), "payloadLength");
    }

    [Fact]
    public void DecompressionBomb_OfThousandsOfZeroGaloisKeys_IsRefused()
    {
        // The review's case: 1,365 all-zero Galois keys in a few KB. Beyond the count limit, the declared size alone refuses it.
        long keyBytes = 8 + 2 + 32 + 16 + (long)P.MaxDigitCount * P.Ring.LimbCount * P.N * 8;
        var many = Bomb(ObjectKind.GaloisKeys, checked((int)(4 + 1365 * keyBytes)));
        RefusedCheaply(() => RlweSerializer.LoadGaloisKeys(many, P), "payloadLength");
        // Within the count limit, a tiny blob that inflates more than 64-fold is refused as a bomb before inflating.
        var within = Bomb(ObjectKind.GaloisKeys, checked((int)(4 + 400 * keyBytes)));
        var e = Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadGaloisKeys(within, P));
        Assert.Contains("decompression bomb", e.Message);
        // A caller may lower the count limit; the default caps it at 512, and N caps it in any case.
        Assert.Equal(512, SerializationLimits.Default.MaxGaloisKeys);
        var few = SerializationLimits.Default with { MaxGaloisKeys = 1 };
        Rejects("payloadLength", () => RlweSerializer.LoadGaloisKeys(RlweSerializer.Save(fixture.GaloisKeys), P, few));
        Assert.Equal(2, RlweSerializer.LoadGaloisKeys(RlweSerializer.Save(fixture.GaloisKeys), P).Elements.Count);
    }

    [Fact]
    public void DecompressionBomb_HonestDataStillLoads_EvenWhenItCompressesWell()
    {
        // A coefficient-form plaintext of zeros compresses far beyond 64:1 but stays below the 1 MiB of slack.
        var zeros = new Plaintext(P, P.MaxLevel, 1.0, isNttForm: false);
        var bytes = RlweSerializer.Save(zeros, Compression.Brotli);
        Assert.True(bytes.Length < 1024);
        Assert.Equal(P.MaxLevel, RlweSerializer.LoadPlaintext(bytes, P).Level);
        var limits = SerializationLimits.Default with { MaxExpansionRatio = 1 };
        Assert.NotNull(RlweSerializer.LoadPlaintext(bytes, P, limits));
    }

    // ------------------------------------------------------------------ 5. keys bound to their kind and element

    [Fact]
    public void RelabelledGaloisKey_IsRefused()
    {
        // Move the key of the first element to an unused odd element below the second: before, it loaded and rotated garbage.
        var bytes = RlweSerializer.Save(fixture.GaloisKeys);
        int first = VeilHeader.Size + 4;
        ulong element = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(first));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(first), element + 2);
        var e = Rejects("bindingTag", () => RlweSerializer.LoadGaloisKeys(bytes, P));
        Assert.Contains($"element {element + 2}", e.Message);
    }

    [Theory]
    [InlineData(ObjectKind.RelinearizationKey, ObjectKind.KeySwitchingKey)]
    [InlineData(ObjectKind.KeySwitchingKey, ObjectKind.RelinearizationKey)]
    public void RelinearizationAndSwitchingKeys_RelabelledAsEachOther_AreRefused(ObjectKind saved, ObjectKind claimed)
    {
        var bytes = saved == ObjectKind.RelinearizationKey ? RlweSerializer.Save(fixture.RelinearizationKey) : RlweSerializer.Save(fixture.SwitchingKey);
        bytes[8] = (byte)claimed; // the kind, a u16 at offset 8
        Action load = claimed == ObjectKind.KeySwitchingKey
            ? () => RlweSerializer.LoadKeySwitchingKey(bytes, P)
            : () => RlweSerializer.LoadRelinearizationKey(bytes, P);
        Rejects("bindingTag", load);
    }

    [Fact]
    public void KeysFromOtherParametersWithTheSameShape_AreRefusedByTheirTag()
    {
        // Same N and prime counts, other primes: the header's fingerprint is rewritten to P's, the tag still differs.
        var other = fixture.OtherParameters;
        var key = new KeyGenerator(other).CreateRelinearizationKey();
        var bytes = RlweSerializer.Save(key);
        P.Hash.Span.CopyTo(bytes.AsSpan(16));
        Assert.Throws<VeilFormatException>(() => RlweSerializer.LoadRelinearizationKey(bytes, P));
    }
}
