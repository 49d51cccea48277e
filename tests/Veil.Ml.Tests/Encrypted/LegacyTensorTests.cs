using Veil.Ckks;
using Veil.Ckks.Serialization;
using Veil.Ml.Encrypted;
using Veil.Rlwe;
using Veil.Rlwe.Serialization;

namespace Veil.Ml.Tests.Encrypted;

/// <summary>Encrypted vectors and matrices saved by the release before the Veil envelope still load.</summary>
public class LegacyTensorTests
{
    private static byte[] File(string name) => System.IO.File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Legacy", name));

    [Fact]
    public void BarePrefixVectorAndMatrix_StillLoadAndDecrypt()
    {
        var p = CkksSerializer.LoadParameters(File("tensors-parameters.veil"), minimumSecurity: SecurityLevel.InsecureNoCheck);
        var sk = RlweSerializer.LoadSecretKey(File("tensors-secret-key.veil"), p.Ring);
        using var owner = CkksContext.FromKeys(p, RlweSerializer.LoadPublicKey(File("tensors-public-key.veil"), p.Ring), secretKey: sk);
        var v = EncryptedVector.Load(owner, File("vector.veil"));
        var values = v.Decrypt();
        Assert.Equal(3, values.Length);
        Assert.True(Math.Abs(values[0] - 1.25) + Math.Abs(values[1] + 2.5) + Math.Abs(values[2] - 3.75) < 1e-4);
        var m = EncryptedMatrix.Load(owner, File("matrix.veil")).Decrypt();
        Assert.Equal(2, m.Length);
        Assert.True(Math.Abs(m[1][2] - 6) < 1e-4 && Math.Abs(m[0][0] - 1) < 1e-4);
        // Saved again, both are enveloped objects.
        Assert.True(v.Save().AsSpan().StartsWith("VEIL"u8));
    }
}
