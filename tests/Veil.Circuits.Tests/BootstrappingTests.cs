using System.Numerics;
using Veil.Ckks;
using Veil.Rlwe;
using Xunit;
using Xunit.Abstractions;

namespace Veil.Circuits.Tests;

public sealed class BootstrappingTests(ITestOutputHelper output)
{
    /// <summary>A small, visibly insecure chain: N = 2^11, sparse secret h = 32, two levels left after a bootstrap.</summary>
    internal static BootstrappingPreset SmallPreset => BootstrappingPreset.Layout("test", 11, 55, 2, 40,
        new BootstrappingParameters { CoeffToSlotLevels = 2, SlotToCoeffLevels = 2, SecretHammingWeight = 32, DoubleAngle = 3 },
        logSlotToCoeff: 45, logEvalMod: 60, logCoeffToSlot: 58, logP: [61, 61], SecurityLevel.InsecureNoCheck);

    [Theory]
    [InlineData(16, 1)]
    [InlineData(16, 4)]
    [InlineData(64, 3)]
    public void The_factored_DFT_is_the_encoders_special_FFT_without_its_bit_reversal(int slots, int levels)
    {
        var random = new Random(slots * 10 + levels);
        var w = Enumerable.Range(0, slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
        // z_j = Σ_k w_k·ζ^(k·5^j), ζ = exp(iπ/N), N = 2·slots.
        int m = 4 * slots;
        var expected = new Complex[slots];
        long g = 1;
        for (int j = 0; j < slots; j++)
        {
            for (int k = 0; k < slots; k++) expected[j] += w[k] * Complex.FromPolarCoordinates(1, 2 * Math.PI * (g * k % m) / m);
            g = g * 5 % m;
        }
        int bits = System.Numerics.BitOperations.Log2((uint)slots);
        var reversed = new Complex[slots];
        for (int k = 0; k < slots; k++) reversed[Veil.Arithmetic.NttTable.ReverseBits(k, bits)] = w[k];
        var z = reversed;
        foreach (var d in HomomorphicDft.SlotToCoeffMatrices(slots, levels, Complex.One)) z = HomomorphicDft.ApplyPlain(d, z);
        for (int j = 0; j < slots; j++) Assert.True(Complex.Abs(z[j] - expected[j]) < 1e-12, $"slot {j}: {z[j]} vs {expected[j]}");
        var back = expected;
        foreach (var d in HomomorphicDft.CoeffToSlotMatrices(slots, levels, Complex.One)) back = HomomorphicDft.ApplyPlain(d, back);
        for (int k = 0; k < slots; k++) Assert.True(Complex.Abs(back[k] - reversed[k]) < 1e-12, $"coefficient {k}: {back[k]} vs {reversed[k]}");
    }

    [Fact]
    public void A_bootstrap_restores_levels_and_keeps_the_values()
    {
        var preset = SmallPreset;
        var parameters = CkksParameters.Create(preset.Literal, SecurityLevel.InsecureNoCheck);
        var bootstrapper = new Bootstrapper(parameters, preset.Bootstrapping);
        Assert.Equal(preset.ComputationLevels, bootstrapper.OutputLevel);
        using var context = CkksContext.Create(parameters, bootstrapper.RequiredRotations, conjugation: true, secretHammingWeight: preset.Bootstrapping.SecretHammingWeight);
        var random = new Random(7);
        var values = Enumerable.Range(0, parameters.Slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
        var ct = context.Encryptor.Encrypt(context.Encoder.Encode(values, parameters.DefaultScale, parameters.MaxLevel));
        ct = context.Evaluator.DropToLevel(ct, 0);
        var result = bootstrapper.Bootstrap(context.Evaluator, context.Encoder, ct, out var timings);
        Assert.Equal(bootstrapper.OutputLevel, result.Level);
        var decoded = context.DecryptComplex(result);
        double worst = 0, sumBits = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double error = Complex.Abs(decoded[i] - values[i]);
            worst = Math.Max(worst, error);
            sumBits += -Math.Log2(Math.Max(error, 1e-300));
        }
        output.WriteLine($"K = {bootstrapper.EvalMod.K}, degree {bootstrapper.EvalMod.Series.Degree}, EvalMod depth {bootstrapper.EvalMod.Depth}, error {bootstrapper.EvalMod.MaxError:E2}; " +
            $"mean precision {sumBits / values.Length:F1} bits, min {-Math.Log2(worst):F1}; {timings}");
        Assert.True(-Math.Log2(worst) > 15, $"worst error {worst:E2}");
    }
}
