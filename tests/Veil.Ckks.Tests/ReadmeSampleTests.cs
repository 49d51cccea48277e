using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Ckks.Tests;

public class ReadmeSampleTests
{
    [Fact]
    public void ReadmeSample_ComputesTheStatedValues()
    {
        // Same code as the README's "library in 15 lines".
        var parameters = CkksParameters.Create(CkksParameters.SetA);        // N = 8192, 128-bit security
        var keys = new KeyGenerator(parameters.Ring);
        var encoder = new CkksEncoder(parameters);
        var encryptor = new Encryptor(parameters.Ring, keys.CreatePublicKey());
        var decryptor = new Decryptor(parameters.Ring, keys.SecretKey);
        var evaluator = new CkksEvaluator(parameters, keys.CreateRelinearizationKey(), keys.CreateRotationKeys([1]));

        var x = encryptor.Encrypt(encoder.Encode([1.5, 2.0, -3.25, 4.0]));
        var y = encryptor.Encrypt(encoder.Encode([0.5, -1.0, 2.0, 0.25]));
        var product = evaluator.MultiplyRelinearizeRescale(x, y);           // slot-wise x·y
        var rotated = evaluator.Rotate(product, 1);                          // slot i ← slot i + 1
        var result = encoder.Decode(decryptor.Decrypt(rotated))[..3];

        double[] expected = [-2, -6.5, 1];
        for (int i = 0; i < 3; i++) Assert.True(Math.Abs(result[i] - expected[i]) < 1e-6, $"slot {i}: {result[i]}");
    }
}
