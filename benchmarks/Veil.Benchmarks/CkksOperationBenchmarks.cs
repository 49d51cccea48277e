using System.Numerics;
using BenchmarkDotNet.Attributes;
using Veil.Ckks;
using Veil.Rlwe;

namespace Veil.Benchmarks;

/// <summary>
/// Every CKKS operation at the top level of the preset sets, through the destination-taking forms, so that the
/// allocation column shows only what the library allocates internally. <see cref="RotateHoisted8"/> and
/// <see cref="MultiplyRelinearizeRescale"/> have no destination form: they also allocate their results.
/// </summary>
[MemoryDiagnoser]
public class CkksOperationBenchmarks
{
    private const int HoistedSteps = 8;

    [Params("SetA", "SetB")]
    public string Set { get; set; } = "SetA";

    [Params(1, 2)]
    public int Threads { get; set; }

    private CkksParameters _parameters = null!;
    private KeyGenerator _keygen = null!;
    private CkksEncoder _encoder = null!;
    private Encryptor _encryptor = null!;
    private Decryptor _decryptor = null!;
    private CkksEvaluator _evaluator = null!;
    private int _level;
    private double _scale;
    private double[] _values = [];
    private Complex[] _decoded = [];
    private int[] _steps = [];

    private Plaintext _plain = null!, _plainOut = null!;
    private Ciphertext _a = null!, _b = null!, _product3 = null!, _product2 = null!;
    private Ciphertext _dst2 = null!, _dst3 = null!, _dstLower = null!;
    private Ciphertext[] _rotated = [];

    /// <summary>Keys, encoder, encryptor, decryptor, operands and destinations; the evaluator has no Galois keys.</summary>
    [GlobalSetup]
    public void Setup() => CommonSetup(galoisKeys: null);

    /// <summary>As <see cref="Setup"/>, with the power-of-two rotation keys.</summary>
    [GlobalSetup(Target = nameof(Rotate))]
    public void SetupPowerOfTwoKeys()
    {
        CommonSetup(galoisKeys: keygen => keygen.CreatePowerOfTwoRotationKeys());
    }

    /// <summary>As <see cref="Setup"/>, with a key for each of the steps 1 … 8.</summary>
    [GlobalSetup(Targets = [nameof(RotateHoisted8), nameof(Rotate8Separately)])]
    public void SetupStepKeys()
    {
        CommonSetup(galoisKeys: keygen => keygen.CreateRotationKeys(Enumerable.Range(1, HoistedSteps)));
    }

    private void CommonSetup(Func<KeyGenerator, GaloisKeys>? galoisKeys)
    {
        _parameters = CkksParameters.Create(TestData.Literal(Set));
        var ring = _parameters.Ring;
        _keygen = new KeyGenerator(ring);
        var relinearizationKey = _keygen.CreateRelinearizationKey();
        _evaluator = new CkksEvaluator(_parameters, relinearizationKey, galoisKeys?.Invoke(_keygen)) { MaxDegreeOfParallelism = Threads };
        _encoder = new CkksEncoder(_parameters) { MaxDegreeOfParallelism = Threads };
        _encryptor = new Encryptor(ring, _keygen.CreatePublicKey()) { MaxDegreeOfParallelism = Threads };
        _decryptor = new Decryptor(ring, _keygen.SecretKey);

        _level = _parameters.MaxLevel;
        _scale = _parameters.DefaultScale;
        _values = TestData.Reals(_parameters.Slots, 6);
        _decoded = new Complex[_parameters.Slots];
        _steps = Enumerable.Range(1, HoistedSteps).ToArray();

        _plain = _encoder.Encode(_values, _scale, _level);
        _plainOut = new Plaintext(ring, _level, _scale);
        _a = _encryptor.Encrypt(_plain);
        _b = _encryptor.Encrypt(_encoder.Encode(TestData.Reals(_parameters.Slots, 7), _scale, _level));
        _product3 = _evaluator.Multiply(_a, _b);
        _product2 = _evaluator.Relinearize(_product3);

        _dst2 = new Ciphertext(ring, _level, 2, _scale);
        _dst3 = new Ciphertext(ring, _level, 3, _scale);
        _dstLower = new Ciphertext(ring, _level - 1, 2, _scale);
        _rotated = Enumerable.Range(0, HoistedSteps).Select(_ => new Ciphertext(ring, _level, 2, _scale)).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup() => _keygen?.SecretKey.Dispose();

    [Benchmark]
    public void Encode() => _encoder.Encode(_values, _scale, _level, _plainOut);

    [Benchmark]
    public void EncryptPublicKey() => _encryptor.Encrypt(_plain, _dst2);

    [Benchmark]
    public void Decrypt() => _decryptor.Decrypt(_a, _plainOut);

    [Benchmark]
    public void Decode() => _encoder.Decode(_plain, _decoded);

    [Benchmark]
    public void Add() => _evaluator.Add(_a, _b, _dst2);

    [Benchmark]
    public void MultiplyPlain() => _evaluator.MultiplyPlain(_a, _plain, _dst2);

    /// <summary>Tensor product: size-2 × size-2 into an existing size-3 destination.</summary>
    [Benchmark]
    public void Multiply() => _evaluator.Multiply(_a, _b, _dst3);

    /// <summary>Size-3 input into an existing size-2 destination.</summary>
    [Benchmark]
    public void Relinearize() => _evaluator.Relinearize(_product3, _dst2);

    /// <summary>Top level into an existing destination one level down.</summary>
    [Benchmark]
    public void Rescale() => _evaluator.Rescale(_product2, _dstLower);

    /// <summary>Rotation by one slot with the power-of-two keys.</summary>
    [Benchmark]
    public void Rotate() => _evaluator.Rotate(_a, 1, _dst2);

    /// <summary>Multiply, relinearize and rescale, each into an existing destination.</summary>
    [Benchmark]
    public void MulRelinRescale()
    {
        _evaluator.Multiply(_a, _b, _dst3);
        _evaluator.Relinearize(_dst3, _dst2);
        _evaluator.Rescale(_dst2, _dstLower);
    }

    /// <summary>The one-call <see cref="CkksEvaluator.MultiplyRelinearizeRescale"/> (allocates its result and works in place).</summary>
    [Benchmark]
    public Ciphertext MultiplyRelinearizeRescale() => _evaluator.MultiplyRelinearizeRescale(_a, _b);

    /// <summary>Rotations by 1 … 8 sharing one decomposition (allocates the eight results).</summary>
    [Benchmark]
    public Ciphertext[] RotateHoisted8() => _evaluator.RotateHoisted(_a, _steps);

    /// <summary>Rotations by 1 … 8, each with its own key, into existing destinations.</summary>
    [Benchmark]
    public void Rotate8Separately()
    {
        for (int i = 0; i < _steps.Length; i++) _evaluator.Rotate(_a, _steps[i], _rotated[i]);
    }
}
