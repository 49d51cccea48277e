using Veil.Ml.Data;

namespace Veil.Ml.Tests.Models;

/// <summary>Standardized, seeded splits of the built-in data sets, shared by the model tests (all splits use seed 42).</summary>
public static class ModelData
{
    public const int Seed = 42;

    private static readonly Lazy<(Dataset Train, Dataset Test)> s_diabetes = new(() => Split(BuiltinDatasets.Diabetes(), Seed, stratify: false));
    private static readonly Lazy<(Dataset Train, Dataset Test)> s_breastCancer = new(() => Split(BuiltinDatasets.BreastCancer(), Seed, stratify: true));
    private static readonly Lazy<(Dataset Train, Dataset Test)> s_iris = new(() => Split(BuiltinDatasets.Iris(), Seed, stratify: true));

    public static (Dataset Train, Dataset Test) Diabetes => s_diabetes.Value;
    public static (Dataset Train, Dataset Test) BreastCancer => s_breastCancer.Value;
    public static (Dataset Train, Dataset Test) Iris => s_iris.Value;

    /// <summary>80/20 split, standardized with statistics of the training part.</summary>
    public static (Dataset Train, Dataset Test) Split(Dataset data, int seed, bool stratify)
    {
        var (train, test) = DataSplit.TrainTest(data, 0.2, seed, stratify);
        var standardizer = new Standardizer().Fit(train);
        return (standardizer.Transform(train), standardizer.Transform(test));
    }
}
