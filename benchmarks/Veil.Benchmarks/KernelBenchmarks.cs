using BenchmarkDotNet.Attributes;
using Veil.Arithmetic;

namespace Veil.Benchmarks;

/// <summary>
/// Word-level kernels: Barrett and Shoup modular multiplication (per multiplication, 4096 per invocation), and the
/// negacyclic NTT for a 60-bit prime (scalar Shoup/Harvey path) against a 40-bit prime (AVX2/FMA double-precision
/// path where the processor has it). The modular loops do not depend on <see cref="N"/>.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private const int Count = 4096;

    [Params(8192, 16384)]
    public int N { get; set; }

    private Modulus _modulus;
    private ulong[] _a = [], _b = [], _bShoup = [], _product = [];
    private NttTable _ntt60 = null!, _ntt40 = null!;
    private ulong[] _data60 = [], _data40 = [];

    [GlobalSetup]
    public void Setup()
    {
        int logN = System.Numerics.BitOperations.Log2((uint)N);
        ulong q60 = Primes.NttPrimes(60, logN, 1)[0];
        ulong q40 = Primes.NttPrimes(40, logN, 1)[0];

        _modulus = new Modulus(q60);
        _a = TestData.Residues(q60, Count, 1);
        _b = TestData.Residues(q60, Count, 2);
        _bShoup = _b.Select(_modulus.ShoupPrecompute).ToArray();
        _product = new ulong[Count];

        _ntt60 = new NttTable(new Modulus(q60), logN);
        _ntt40 = new NttTable(new Modulus(q40), logN);
        if (_ntt60.UsesFloatingPoint) throw new InvalidOperationException("The 60-bit table unexpectedly uses the floating-point path.");
        Console.WriteLine($"// 40-bit NTT uses the AVX2/FMA path: {_ntt40.UsesFloatingPoint}");
        _data60 = TestData.Residues(q60, N, 3);
        _data40 = TestData.Residues(q40, N, 4);
    }

    /// <summary>c_i = a_i·b_i mod q (Barrett on the 128-bit product), 60-bit q.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public void ModulusMul()
    {
        var m = _modulus;
        ulong[] a = _a, b = _b, c = _product;
        for (int i = 0; i < c.Length && i < a.Length && i < b.Length; i++) c[i] = m.Mul(a[i], b[i]);
    }

    /// <summary>c_i = a_i·b_i mod q with precomputed Shoup companions of b_i, 60-bit q.</summary>
    [Benchmark(OperationsPerInvoke = Count)]
    public void ModulusMulShoup()
    {
        var m = _modulus;
        ulong[] a = _a, b = _b, bs = _bShoup, c = _product;
        for (int i = 0; i < c.Length && i < a.Length && i < b.Length && i < bs.Length; i++) c[i] = m.MulShoup(a[i], b[i], bs[i]);
    }

    /// <summary>In-place forward NTT, 60-bit prime (scalar path). The output is a valid input for the next call.</summary>
    [Benchmark]
    public void NttForward60() => _ntt60.Forward(_data60);

    /// <summary>In-place inverse NTT, 60-bit prime (scalar path).</summary>
    [Benchmark]
    public void NttInverse60() => _ntt60.Inverse(_data60);

    /// <summary>In-place forward NTT, 40-bit prime (AVX2/FMA path where supported).</summary>
    [Benchmark]
    public void NttForward40() => _ntt40.Forward(_data40);

    /// <summary>In-place inverse NTT, 40-bit prime (AVX2/FMA path where supported).</summary>
    [Benchmark]
    public void NttInverse40() => _ntt40.Inverse(_data40);
}
