using BenchmarkDotNet.Attributes;
using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Benchmarks;

/// <summary>
/// Hybrid key switching at the top level: one <see cref="KeySwitcher.SwitchAndAdd"/>, and eight rotations' worth
/// of key switching done hoisted (one <see cref="KeySwitcher.Decompose"/>, then eight
/// <see cref="KeySwitchDecomposition.Switch"/> with a Galois element) against eight separate automorphisms +
/// <see cref="KeySwitcher.SwitchAndAdd"/>.
/// </summary>
[MemoryDiagnoser]
public class KeySwitchBenchmarks
{
    private const int Rotations = 8;

    [Params("SetA", "SetB")]
    public string Set { get; set; } = "SetA";

    [Params(1, 2)]
    public int Threads { get; set; }

    private RlweParameters _ring = null!;
    private int _level;
    private KeySwitchingKey _relinearizationKey = null!;
    private ulong[] _galoisElements = [];
    private KeySwitchingKey[] _galoisKeys = [];
    private ulong[] _input = [], _permuted = [], _acc0 = [], _acc1 = [], _result0 = [], _result1 = [];

    [GlobalSetup]
    public void Setup()
    {
        var parameters = CkksParameters.Create(TestData.Literal(Set));
        _ring = parameters.Ring;
        _level = _ring.MaxLevel;
        var keygen = new KeyGenerator(_ring);
        _relinearizationKey = keygen.CreateRelinearizationKey().Key;
        var steps = Enumerable.Range(1, Rotations).ToArray();
        var galoisKeys = keygen.CreateRotationKeys(steps);
        _galoisElements = steps.Select(s => GaloisElements.ForRotation(s, _ring.N)).ToArray();
        _galoisKeys = _galoisElements.Select(k => galoisKeys[k]).ToArray();

        int len = (_level + 1) * _ring.N;
        _input = TestData.Polynomial(_ring.Ring, _level + 1, 5);
        _permuted = new ulong[len];
        _acc0 = new ulong[len];
        _acc1 = new ulong[len];
        _result0 = new ulong[len];
        _result1 = new ulong[len];
    }

    /// <summary>One key switch (the core of relinearization and of a single rotation), added into two accumulators.</summary>
    [Benchmark]
    public void SwitchAndAdd() =>
        KeySwitcher.SwitchAndAdd(_ring, _level, _input, _relinearizationKey, _acc0, _acc1, Threads);

    /// <summary>Decompose once, then switch σ_k(d) for eight Galois elements.</summary>
    [Benchmark]
    public void Hoisted8()
    {
        using var decomposition = KeySwitcher.Decompose(_ring, _level, _input, Threads);
        for (int i = 0; i < _galoisKeys.Length; i++)
            decomposition.Switch(_galoisKeys[i], _galoisElements[i], _result0, _result1, Threads);
    }

    /// <summary>Eight times: apply the automorphism to d, then a full key switch.</summary>
    [Benchmark(Baseline = true)]
    public void Separate8()
    {
        int limbs = _level + 1;
        for (int i = 0; i < _galoisKeys.Length; i++)
        {
            KeySwitcher.ApplyGaloisNtt(_ring, _galoisElements[i], _input, _permuted, limbs);
            KeySwitcher.SwitchAndAdd(_ring, _level, _permuted, _galoisKeys[i], _acc0, _acc1, Threads);
        }
    }
}
