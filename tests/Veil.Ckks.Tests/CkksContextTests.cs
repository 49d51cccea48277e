using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Ckks.Tests;

public class CkksContextTests
{
    private static readonly Lazy<CkksContext> Owner = new(() =>
        CkksContext.Create(CkksParameters.Create(CkksParameters.SetA), [1, 2, 4], releaseBudget: 16));

    [Fact]
    public void PublicForm_LoadedElsewhere_ComputesOnTheOwnersCiphertexts_ButCannotDecrypt()
    {
        var owner = Owner.Value;
        var bytes = owner.SavePublic(Compression.Brotli);
        var computing = CkksContext.Load(bytes);
        Assert.True(computing.IsPublic);
        Assert.Throws<InvalidOperationException>(() => computing.Decrypt(owner.Encrypt([1.0])));
        var x = new[] { 1.5, -2.0, 0.25, 3.0 };
        var ct = owner.Encrypt(x);
        var y = computing.Evaluator.Rotate(computing.Evaluator.MultiplyRelinearizeRescale(ct, ct), 1);
        var back = owner.Decrypt(y, 0, 3);
        for (int i = 0; i < 3; i++) Assert.True(Math.Abs(back[i] - x[i + 1] * x[i + 1]) < 1e-4);
        // The computing party's own encryptions decrypt at the owner.
        Assert.True(Math.Abs(owner.Decrypt(computing.Encrypt([7.0]))[0] - 7.0) < 1e-6);
    }

    [Fact]
    public void PrivateForm_RoundTrips_TheSecretKeyAndItsBudget()
    {
        var owner = Owner.Value;
        var bytes = owner.SavePrivateUnprotected();
        using var again = CkksContext.Load(bytes);
        Assert.False(again.IsPublic);
        Assert.Equal(16, again.ReleaseBudget!.Limit);
        var ct = owner.Encrypt([0.5, 0.25]);
        Assert.True(Math.Abs(again.Decrypt(ct)[1] - 0.25) < 1e-6);
        // A public form is refused as private and the reverse: the type is in the header.
        Assert.Throws<VeilFormatException>(() => CkksContext.Load(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Throws<InvalidOperationException>(() => CkksContext.Load(owner.SavePublic()).SavePrivateUnprotected());
    }

    [Fact]
    public void PrivateForm_SealedForAKeyring_OpensOnlyThroughIt()
    {
        var owner = Owner.Value;
        string dir = Directory.CreateTempSubdirectory("veil-sealed-").FullName;
        try
        {
            using var ring = Veil.Protection.PassphraseKeyring.Create(Path.Combine(dir, "ring.vkr"), "a passphrase for the test", new(1024, 1, 1), allowWeakCost: true);
            var sealedBytes = owner.SavePrivate(ring.Protector());
            Assert.True(sealedBytes.AsSpan().StartsWith("VEILPROT"u8));
            // The secret key's coefficients (N signed bytes inside the clear form) do not appear in the sealed one.
            var clear = owner.SavePrivateUnprotected();
            Assert.True(clear.AsSpan().IndexOf(clear.AsSpan(clear.Length - 4200, 64)) >= 0);
            Assert.True(sealedBytes.AsSpan().IndexOf(clear.AsSpan(clear.Length - 4200, 64)) < 0);
            using var again = CkksContext.Load(sealedBytes, ring.Protector());
            Assert.False(again.IsPublic);
            Assert.True(Math.Abs(again.Decrypt(owner.Encrypt([0.75]))[0] - 0.75) < 1e-6);
            Assert.Equal("magic", Assert.Throws<VeilFormatException>(() => CkksContext.Load(sealedBytes)).Field);
            using var other = Veil.Protection.PassphraseKeyring.Create(Path.Combine(dir, "other.vkr"), "another passphrase here", new(1024, 1, 1), allowWeakCost: true);
            Assert.Throws<Veil.Protection.ProtectionException>(() => CkksContext.Load(sealedBytes, other.Protector()));
            // A sealed secret key cannot be opened as a context: the object type is bound.
            var keygen = new KeyGenerator(owner.Parameters.Ring);
            var sealedKey = Veil.Rlwe.Serialization.RlweSerializer.Save(keygen.SecretKey, ring.Protector());
            using (var opened = Veil.Rlwe.Serialization.RlweSerializer.LoadSecretKey(sealedKey, owner.Parameters.Ring, ring.Protector())) Assert.Equal(keygen.SecretKey.Coefficients.ToArray(), opened.Coefficients.ToArray());
            Assert.Throws<Veil.Protection.ProtectionException>(() => CkksContext.Load(sealedKey, ring.Protector()));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void FromKeys_BuildsAComputingContextFromReceivedKeys()
    {
        var owner = Owner.Value;
        var computing = CkksContext.FromKeys(owner.Parameters, owner.PublicKey, owner.RelinearizationKey, owner.GaloisKeys);
        Assert.True(computing.IsPublic);
        var ct = computing.Evaluator.Add(owner.Encrypt([1.0]), owner.Encrypt([2.0]));
        Assert.True(Math.Abs(owner.Decrypt(ct)[0] - 3.0) < 1e-6);
        var other = CkksParameters.Create(CkksParameters.SetB);
        Assert.Throws<ArgumentException>(() => CkksContext.FromKeys(other, owner.PublicKey));
    }

    [Fact]
    public void Load_RefusesInsecureParameters_AndHostileBytes()
    {
        var tiny = CkksContext.Create(CkksParameters.Create(new CkksParametersLiteral { LogN = 10, LogQ = [30], LogP = [30], LogDefaultScale = 20, Security = SecurityLevel.InsecureNoCheck },
            SecurityLevel.InsecureNoCheck), []);
        var bytes = tiny.SavePublic();
        Assert.Equal("security", Assert.Throws<VeilFormatException>(() => CkksContext.Load(bytes)).Field);
        Assert.True(CkksContext.Load(bytes, minimumSecurity: SecurityLevel.InsecureNoCheck).IsPublic);
        var rng = new Random(5);
        for (int i = 0; i < 300; i++)
        {
            var mutated = (byte[])bytes.Clone();
            for (int f = 0; f < 3; f++) mutated[rng.Next(mutated.Length)] ^= (byte)(1 << rng.Next(8));
            if (i % 4 == 0) mutated = mutated[..rng.Next(mutated.Length)];
            try { CkksContext.Load(mutated, minimumSecurity: SecurityLevel.InsecureNoCheck); }
            catch (VeilFormatException) { }
        }
    }

    [Fact]
    public void Cancellation_StopsEvaluatorOperationsAndKeyGeneration()
    {
        using var source = new CancellationTokenSource();
        var owner = Owner.Value.WithOptions(new ExecutionOptions { Cancellation = source.Token, MaxDegreeOfParallelism = 1 });
        var ct = owner.Encrypt([1.0]);
        owner.Evaluator.Add(ct, ct);
        source.Cancel();
        Assert.Throws<OperationCanceledException>(() => owner.Evaluator.Add(ct, ct));
        Assert.ThrowsAny<OperationCanceledException>(() => CkksContext.Create(CkksParameters.Create(CkksParameters.SetA), [1, 2, 3],
            options: new ExecutionOptions { Cancellation = source.Token }));
    }
}
