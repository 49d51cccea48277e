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
        new BootstrappingParameters { CoeffToSlotLevels = 2, SlotToCoeffLevels = 2, SecretHammingWeight = 32 },
        logSlotToCoeff: 45, logEvalMod: 60, logCoeffToSlot: 58, logP: [61, 61], SecurityLevel.InsecureNoCheck);

    private static (BootstrappingPreset Preset, CkksParameters Parameters, Bootstrapper Bootstrapper) Small()
    {
        var preset = SmallPreset;
        var parameters = CkksParameters.Create(preset.Literal, SecurityLevel.InsecureNoCheck);
        return (preset, parameters, new Bootstrapper(parameters, preset.Bootstrapping));
    }

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

    [Theory]
    [InlineData(16, 64, 2)]
    [InlineData(16, 32, 3)]
    [InlineData(2, 8, 1)]
    public void The_sparse_DFT_packs_both_halves_into_one_vector_and_back(int slots, int fullSlots, int levels)
    {
        // A polynomial in Y = X^(N/2n) decodes to n values repeated over the N/2 slots: z = F·BitRev(w), repeated.
        var random = new Random(slots + fullSlots);
        var w = Enumerable.Range(0, slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
        int bits = System.Numerics.BitOperations.Log2((uint)slots);
        var reversed = new Complex[slots];
        for (int k = 0; k < slots; k++) reversed[Veil.Arithmetic.NttTable.ReverseBits(k, bits)] = w[k];
        var z = reversed;
        foreach (var d in HomomorphicDft.SlotToCoeffMatrices(slots, levels, Complex.One)) z = HomomorphicDft.ApplyPlain(d, z);
        var repeated = Enumerable.Range(0, fullSlots).Select(p => z[p % slots]).ToArray();
        var y = repeated;
        foreach (var d in HomomorphicDft.SparseCoeffToSlotMatrices(slots, levels, fullSlots, Complex.One)) y = HomomorphicDft.ApplyPlain(d, y);
        // y + conj(y): twice the real parts of BitRev(w) in the first n of every 2n slots, twice the imaginary parts in the next n.
        var both = y.Select(v => new Complex(2 * v.Real, 0)).ToArray();
        for (int p = 0; p < fullSlots; p++)
        {
            var r = reversed[p % slots];
            double expected = 2 * (p % (2 * slots) < slots ? r.Real : r.Imaginary);
            Assert.True(Math.Abs(both[p].Real - expected) < 1e-11, $"slot {p}: {both[p].Real} vs {expected}");
        }
        var back = both;
        foreach (var d in HomomorphicDft.SparseSlotToCoeffMatrices(slots, levels, fullSlots, 0.5)) back = HomomorphicDft.ApplyPlain(d, back);
        for (int p = 0; p < fullSlots; p++) Assert.True(Complex.Abs(back[p] - repeated[p]) < 1e-11, $"slot {p}: {back[p]} vs {repeated[p]}");
        Assert.Throws<ArgumentOutOfRangeException>(() => HomomorphicDft.SparseCoeffToSlotMatrices(fullSlots, levels, fullSlots, Complex.One));
    }

    [Theory]
    [InlineData(9)] // n = N/4: both halves fill the N/2 slots
    [InlineData(6)] // n = N/32: four rotations of trace, vectors repeated 16 times
    public void A_sparse_bootstrap_keeps_n_repeated_values_with_one_EvalMod(int logSlots)
    {
        var preset = SmallPreset;
        var parameters = CkksParameters.Create(preset.Literal, SecurityLevel.InsecureNoCheck);
        var settings = preset.Bootstrapping with { LogSlots = logSlots };
        int n = 1 << logSlots;
        var (owner, kit) = BootstrapKit.CreateOwner(parameters, settings, []);
        using (owner)
        {
            var bootstrapper = kit.Bootstrapper;
            var full = new Bootstrapper(parameters, preset.Bootstrapping);
            Assert.True(bootstrapper.IsSparse);
            Assert.Equal(n, bootstrapper.Slots);
            Assert.Equal(full.OutputLevel, bootstrapper.OutputLevel);
            // The trace's rotations n, 2n, …, N/4 are among the keys; the smaller DFT needs fewer diagonals.
            for (int step = n; step < parameters.Slots; step *= 2) Assert.Contains(step, bootstrapper.RequiredRotations);
            Assert.True(bootstrapper.DiagonalCounts.CoeffToSlot < full.DiagonalCounts.CoeffToSlot || logSlots == 9,
                $"{bootstrapper.DiagonalCounts} vs {full.DiagonalCounts}");
            var random = new Random(logSlots);
            var values = Enumerable.Range(0, n).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
            var ct = owner.Evaluator.DropToLevel(owner.Encryptor.Encrypt(owner.Encoder.EncodeSparse(values, n, parameters.DefaultScale, parameters.MaxLevel)), 0);
            var result = bootstrapper.Bootstrap(owner.Evaluator, owner.Encoder, ct, kit.Encapsulation, out var timings);
            Assert.Equal(bootstrapper.OutputLevel, result.Level);
            var decrypted = owner.DecryptComplex(result);
            var expected = Enumerable.Range(0, parameters.Slots).Select(j => values[j % n]).ToArray();
            var (meanBits, minBits) = BootstrapMeasurement.Precision(decrypted, expected);
            output.WriteLine($"n = {n}: {meanBits:F1} / {minBits:F1} bits; diagonals {bootstrapper.DiagonalCounts} (full {full.DiagonalCounts}); {timings}");
            // Measured 23.6 / 22.0 (n = 512) and 23.9 / 22.5 bits (n = 64), full packing 23.4 / 21.8 on the same chain.
            Assert.True(minBits > 20, $"worst error 2^-{minBits:F1}");

            // Values that do not repeat come back as the average of their N/2n runs of n slots (the trace keeps the powers of Y).
            var loose = Enumerable.Range(0, parameters.Slots).Select(_ => new Complex(random.NextDouble() - 0.5, random.NextDouble() - 0.5)).ToArray();
            var averaged = Enumerable.Range(0, parameters.Slots)
                .Select(j => Enumerable.Range(0, parameters.Slots / n).Aggregate(Complex.Zero, (sum, r) => sum + loose[(j % n) + r * n]) / (parameters.Slots / n)).ToArray();
            var looseCt = owner.Evaluator.DropToLevel(owner.Encryptor.Encrypt(owner.Encoder.Encode(loose, parameters.DefaultScale, parameters.MaxLevel)), 0);
            var (looseMean, _) = BootstrapMeasurement.Precision(owner.DecryptComplex(bootstrapper.Bootstrap(owner.Evaluator, owner.Encoder, looseCt, kit.Encapsulation, out _)), averaged);
            Assert.True(looseMean > 20, $"against the average of the runs: {looseMean:F1} bits");
            Assert.Throws<NotSupportedException>(() => bootstrapper.BootstrapIterated(owner.Evaluator, owner.Encoder, ct, kit.Encapsulation, 8, out _));
        }
        // LogSlots = log2(N/2) is full packing, spelled out.
        var spelled = new Bootstrapper(parameters, preset.Bootstrapping with { LogSlots = 10 });
        Assert.False(spelled.IsSparse);
        Assert.Equal(new Bootstrapper(parameters, preset.Bootstrapping).RequiredRotations, spelled.RequiredRotations);
        Assert.Throws<ArgumentException>(() => new Bootstrapper(parameters, preset.Bootstrapping with { LogSlots = 11 }));
        Assert.Throws<ArgumentException>(() => new Bootstrapper(parameters, preset.Bootstrapping with { LogSlots = 1 })); // 2 levels need 4 slots
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_bootstrap_restores_levels_and_keeps_the_values(bool denseSecretWithEncapsulation)
    {
        var (preset, parameters, bootstrapper) = Small();
        Assert.Equal(preset.ComputationLevels, bootstrapper.OutputLevel);
        using var context = CkksContext.Create(parameters, bootstrapper.RequiredRotations, conjugation: true,
            secretHammingWeight: denseSecretWithEncapsulation ? null : preset.Bootstrapping.SecretHammingWeight);
        var encapsulation = denseSecretWithEncapsulation ? context.CreateEncapsulation(preset.Bootstrapping.SecretHammingWeight) : null;
        var random = new Random(7);
        var values = Enumerable.Range(0, parameters.Slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
        var ct = context.Encryptor.Encrypt(context.Encoder.Encode(values, parameters.DefaultScale, parameters.MaxLevel));
        ct = context.Evaluator.DropToLevel(ct, 0);
        var result = bootstrapper.Bootstrap(context.Evaluator, context.Encoder, ct, encapsulation, out var timings);
        Assert.Equal(bootstrapper.OutputLevel, result.Level);
        var (meanBits, minBits) = BootstrapMeasurement.Precision(context.DecryptComplex(result), values);
        output.WriteLine($"K = {bootstrapper.EvalMod.K}, degree {bootstrapper.EvalMod.Series.Degree}, EvalMod depth {bootstrapper.EvalMod.Depth}, error {bootstrapper.EvalMod.MaxError:E2}; " +
            $"mean precision {meanBits:F1} bits, min {minBits:F1}; {timings}");
        Assert.True(minBits > 15, $"worst error 2^-{minBits:F1}");
    }

    [Fact]
    public void Without_encapsulation_a_dense_secret_overflows_EvalMod_and_the_values_are_lost()
    {
        // K = 17 is planned for weight 32; a dense secret (about 2N/3 nonzero) puts |I| far beyond it.
        var (preset, parameters, bootstrapper) = Small();
        using var context = CkksContext.Create(parameters, bootstrapper.RequiredRotations, conjugation: true);
        var values = Enumerable.Range(0, parameters.Slots).Select(i => Math.Cos(i)).ToArray();
        var ct = context.Evaluator.DropToLevel(context.Encrypt(values), 0);
        var result = bootstrapper.Bootstrap(context.Evaluator, context.Encoder, ct);
        var decoded = context.Decrypt(result);
        double worst = values.Select((v, i) => Math.Abs(decoded[i] - v)).Max();
        Assert.True(worst > 0.01, $"worst error {worst:E2}: the dense secret should have broken EvalMod's interval");
    }

    [Fact]
    public void An_encapsulation_heavier_than_planned_and_misplaced_inputs_are_refused()
    {
        var (preset, parameters, bootstrapper) = Small();
        using var context = CkksContext.Create(parameters, [1]);
        var heavy = context.CreateEncapsulation(preset.Bootstrapping.SecretHammingWeight + 1);
        var ct = context.Evaluator.DropToLevel(context.Encrypt([0.5]), 0);
        var e = Assert.Throws<ArgumentException>(() => bootstrapper.Bootstrap(context.Evaluator, context.Encoder, ct, heavy, out _));
        Assert.Contains("weight", e.Message);
        // ModRaise starts from level 0 only, and a scale as large as q_0 leaves EvalMod no room.
        Assert.Throws<ArgumentException>(() => context.Evaluator.ModRaise(context.Encrypt([0.5])));
        var huge = ct.Clone();
        huge.Scale = parameters.Ring.Q[0];
        Assert.Throws<ArgumentException>(() => bootstrapper.Bootstrap(context.Evaluator, context.Encoder, huge));
        // Missing rotation keys are named, not silently skipped.
        var missing = Assert.Throws<InvalidOperationException>(() => bootstrapper.Bootstrap(context.Evaluator, context.Encoder, ct));
        Assert.Contains("key", missing.Message);
    }

    [Fact]
    public void The_presets_meet_the_128_bit_bound_and_leave_the_levels_they_state()
    {
        foreach (var preset in new[] { BootstrappingPreset.N16, BootstrappingPreset.N15 })
        {
            var parameters = CkksParameters.Create(preset.Literal); // the 128-bit check of the standard's table
            Assert.True(parameters.Ring.LogQP <= HomomorphicEncryptionStandard.MaxLogQP(parameters.LogN, SecurityLevel.Bits128));
            var bootstrapper = new Bootstrapper(parameters, preset.Bootstrapping);
            Assert.Equal(preset.ComputationLevels, bootstrapper.OutputLevel);
            // CoeffToSlot and SlotToCoeff with as many levels share every rotation (unshared, N16 needed 77).
            Assert.True(bootstrapper.RequiredRotations.Count < (preset.Bootstrapping.CoeffToSlotLevels >= 4 ? 60 : 100), $"{preset.Name}: {bootstrapper.RequiredRotations.Count} rotations");
        }
        Assert.Equal(10, BootstrappingPreset.N16.ComputationLevels);
        Assert.Throws<ArgumentException>(() => CkksParameters.Create(BootstrappingPreset.N14Insecure.Literal));
    }

    [Fact]
    public void Sparse_secrets_have_exactly_their_weight()
    {
        var ring = CkksParameters.Create(SmallPreset.Literal, SecurityLevel.InsecureNoCheck).Ring;
        var generator = KeyGenerator.WithSparseSecret(ring, 32);
        Assert.Equal(32, generator.SecretKey.HammingWeight);
        Assert.Throws<ArgumentOutOfRangeException>(() => KeyGenerator.WithSparseSecret(ring, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => KeyGenerator.WithSparseSecret(ring, ring.N + 1));
    }

    [Fact]
    public void Encapsulation_keys_travel_to_the_computing_party_and_hostile_bytes_are_refused()
    {
        var (preset, parameters, bootstrapper) = Small();
        using var owner = CkksContext.Create(parameters, bootstrapper.RequiredRotations, conjugation: true);
        var stream = new MemoryStream();
        owner.CreateEncapsulation(32).Save(stream);
        var bytes = stream.ToArray();
        // The computing party: a public context and the loaded keys.
        var computing = owner.ToPublic();
        var loaded = SparseSecretEncapsulation.Load(new MemoryStream(bytes), parameters.Ring);
        Assert.Equal(32, loaded.EphemeralHammingWeight);
        var values = Enumerable.Range(0, parameters.Slots).Select(i => Math.Sin(0.01 * i)).ToArray();
        var ct = computing.Evaluator.DropToLevel(computing.Encrypt(values), 0);
        var result = bootstrapper.Bootstrap(computing.Evaluator, computing.Encoder, ct, loaded, out _);
        var decoded = owner.Decrypt(result);
        Assert.True(values.Select((v, i) => Math.Abs(decoded[i] - v)).Max() < 1e-4);
        // Keys of another chain are refused by the loader.
        var other = CkksParameters.Create(preset.Literal with { LogQ = preset.Literal.LogQ[..^1] }, SecurityLevel.InsecureNoCheck);
        Assert.Throws<Veil.Serialization.VeilFormatException>(() => SparseSecretEncapsulation.Load(new MemoryStream(bytes), other.Ring));
        // Mutated, truncated and extended bytes: a typed refusal or a key that loads, never anything else.
        var random = new Random(11);
        for (int trial = 0; trial < 300; trial++)
        {
            var mutated = (byte[])bytes.Clone();
            switch (trial % 3)
            {
                case 0: for (int k = 0; k < 1 + random.Next(4); k++) mutated[random.Next(Math.Min(mutated.Length, 4096))] ^= (byte)(1 << random.Next(8)); break;
                case 1: mutated = mutated[..random.Next(mutated.Length)]; break;
                default: mutated[random.Next(mutated.Length)] = (byte)random.Next(256); break;
            }
            try { SparseSecretEncapsulation.Load(new MemoryStream(mutated), parameters.Ring); }
            catch (Veil.Serialization.VeilFormatException) { }
        }
    }

    [Fact]
    public void Iterated_bootstrapping_removes_part_of_the_first_bootstraps_error()
    {
        var preset = SmallPreset;
        var parameters = CkksParameters.Create(preset.Literal, SecurityLevel.InsecureNoCheck);
        var (owner, kit) = BootstrapKit.CreateOwner(parameters, preset.Bootstrapping, []);
        using (owner)
        {
            var random = new Random(5);
            var values = Enumerable.Range(0, parameters.Slots).Select(_ => new Complex(random.NextDouble() * 2 - 1, random.NextDouble() * 2 - 1)).ToArray();
            var ct = owner.Evaluator.DropToLevel(owner.Encryptor.Encrypt(owner.Encoder.Encode(values, parameters.DefaultScale, parameters.MaxLevel)), 0);
            var once = kit.Bootstrapper.Bootstrap(owner.Evaluator, owner.Encoder, ct, kit.Encapsulation, out _);
            var twice = kit.Bootstrapper.BootstrapIterated(owner.Evaluator, owner.Encoder, ct, kit.Encapsulation, 12, out _);
            Assert.Equal(kit.OutputLevel, twice.Level);
            // Against what the input decrypts to (the same figures as against the encoded values at this size).
            var carried = owner.DecryptComplex(ct);
            var (onceMean, onceMin) = BootstrapMeasurement.Precision(owner.DecryptComplex(once), carried);
            var (twiceMean, twiceMin) = BootstrapMeasurement.Precision(owner.DecryptComplex(twice), carried);
            output.WriteLine($"once {onceMean:F1} / {onceMin:F1} bits, iterated (12 extra bits) {twiceMean:F1} / {twiceMin:F1}");
            // Measured: 23.4 → 31.6 bits mean (21.7 → 29.1 min). Before SlotToCoeff started above the output scale, a floor
            // of 26.0 whatever the extra bits: that rescale noise, N^1.5/(4·2^40) = 2^−25.6 here.
            Assert.True(twiceMean > onceMean + 5 && twiceMin > onceMin + 5, $"iterated {twiceMean:F1} / {twiceMin:F1} bits vs once {onceMean:F1} / {onceMin:F1}");
            Assert.Throws<ArgumentOutOfRangeException>(() => kit.Bootstrapper.BootstrapIterated(owner.Evaluator, owner.Encoder, ct, kit.Encapsulation, 0, out _));
        }
    }
}
