using Microsoft.ML;
using Microsoft.ML.Data;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;

namespace Veil.MlNet.Tests;

public sealed class BinaryRow
{
    public float[] Features { get; set; } = [];
    public bool Label { get; set; }
}

public sealed class ClassRow
{
    public float[] Features { get; set; } = [];
    public string Label { get; set; } = "";
}

public sealed class ValueRow
{
    public float[] Features { get; set; } = [];
    public float Label { get; set; }
}

public sealed class TextRow
{
    public float[] Features { get; set; } = [];
    public string Text { get; set; } = "";
    public bool Label { get; set; }
}

/// <summary>Models trained here by ML.NET on the repository's data, imported, and held to ML.NET's own predictions.</summary>
public sealed class MlNetImporterTests
{
    private const double Relative = 1e-4;

    [Fact]
    public void SdcaLogisticRegression_WithMinMax_SavedAndLoaded_MatchesMlNetScoresLabelsAndProbabilities()
    {
        var ds = BuiltinDatasets.BreastCancer();
        var ml = new MLContext(seed: 1);
        var rows = ds.Features.Select((x, i) => new BinaryRow { Features = ToFloat(x), Label = ds.Targets[i] == 1 }).ToArray();
        var data = Load(ml, rows, ds.Columns);
        var trained = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression(maximumNumberOfIterations: 20)).Fit(data);
        var path = Path.Combine(Path.GetTempPath(), $"veil-mlnet-{Guid.NewGuid():N}.zip");
        MlNetModel model;
        try
        {
            ml.Model.Save(trained, data.Schema, path);
            model = MlNetImporter.ImportFile(path);
        }
        finally { File.Delete(path); }

        Assert.Equal(MlNetModel.Binary, model.Task);
        Assert.Equal("Features", model.FeatureColumn);
        Assert.Equal(30, model.FeatureCount);
        Assert.Single(model.Network.Layers);
        Assert.NotNull(model.PlattSlope);
        var scored = trained.Transform(data);
        var scores = scored.GetColumn<float>("Score").ToArray();
        var labels = scored.GetColumn<bool>("PredictedLabel").ToArray();
        var probabilities = scored.GetColumn<float>("Probability").ToArray();
        Assert.Equal(rows.Length, scores.Length);
        Assert.Contains(labels, l => l);
        Assert.Contains(labels, l => !l);
        for (int i = 0; i < rows.Length; i++)
        {
            var y = model.Network.Forward(ToDouble(rows[i].Features));
            AssertClose(scores[i], y[0], $"row {i}");
            Assert.Equal(labels[i] ? 1 : 0, model.Decide(y));
            Assert.InRange(model.Probability(y[0]) - probabilities[i], -1e-4, 1e-4);
        }
    }

    [Fact]
    public void LbfgsMaximumEntropy_OnDigits_MatchesMlNet_InPlaintextAndEncrypted()
    {
        var ds = BuiltinDatasets.Digits();
        var ml = new MLContext(seed: 1);
        var rows = ds.Features.Select((x, i) => new ClassRow { Features = ToFloat(x), Label = ds.ClassNames![(int)ds.Targets[i]] }).ToArray();
        var data = Load(ml, rows, ds.Columns);
        var trained = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(historySize: 20, optimizationTolerance: 1e-4f))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(data);
        var model = MlNetImporter.Import(trained, data.Schema);

        Assert.Equal(MlNetModel.Multiclass, model.Task);
        Assert.True(model.SoftmaxScores);
        Assert.Equal(10, model.Network.OutputShape.Size);
        Assert.NotNull(model.ClassNames);
        var scored = trained.Transform(data);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        var outputs = new double[rows.Length][];
        for (int i = 0; i < rows.Length; i++)
        {
            outputs[i] = model.Network.Forward(ToDouble(rows[i].Features));
            var p = model.Score(outputs[i]);
            for (int k = 0; k < p.Length; k++) AssertClose(scores[i][k], p[k], $"row {i}, class {k}");
            Assert.Equal(predicted[i], model.ClassNames[model.Decide(outputs[i])]);
        }

        var net = model.Network;
        var parameters = CkksParameters.Create(EncryptedNetworkInference.DefaultParameters(net));
        var inference = new EncryptedNetworkInference(net, parameters.Slots);
        using var client = CkksContext.Create(parameters, inference.RequiredRotations);
        var server = client.ToPublic();
        foreach (int i in new[] { 0, 1, 2 })
        {
            var x = ToDouble(rows[i].Features);
            var y = inference.DecryptSingle(client, inference.EvaluateSingle(server, inference.EncryptSingle(client, x)));
            for (int k = 0; k < y.Length; k++) Assert.InRange(y[k] - outputs[i][k], -1e-3, 1e-3);
        }
        var batch = rows.Take(50).Select(r => ToDouble(r.Features)).ToArray();
        var decrypted = inference.DecryptBatch(client, inference.EvaluateBatch(server, inference.EncryptBatch(client, batch)), batch.Length);
        for (int i = 0; i < batch.Length; i++) Assert.Equal(predicted[i], model.ClassNames[model.Decide(decrypted[i])]);
    }

    [Fact]
    public void SdcaNonCalibrated_Multiclass_OnIris_GivesMlNetsRawScores_InItsClassOrder()
    {
        var ds = BuiltinDatasets.Iris();
        var ml = new MLContext(seed: 1);
        // Virginica first: the key order (by occurrence) then differs from the dataset's, which the importer must keep.
        var rows = ds.Features.Select((x, i) => new ClassRow { Features = ToFloat(x), Label = ds.ClassNames![(int)ds.Targets[i]] }).Reverse().ToArray();
        var data = Load(ml, rows, ds.Columns);
        var trained = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.NormalizeMeanVariance("Normalized", "Features"))
            .Append(ml.MulticlassClassification.Trainers.SdcaNonCalibrated(featureColumnName: "Normalized", maximumNumberOfIterations: 30))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel")).Fit(data);
        var model = MlNetImporter.Import(trained, data.Schema);

        Assert.False(model.SoftmaxScores);
        Assert.Equal("Features", model.FeatureColumn);
        Assert.Equal(["virginica", "versicolor", "setosa"], model.ClassNames);
        var scored = trained.Transform(data);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<string>("PredictedLabel").ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            var y = model.Network.Forward(ToDouble(rows[i].Features));
            for (int k = 0; k < y.Length; k++) AssertClose(scores[i][k], y[k], $"row {i}, class {k}");
            Assert.Equal(predicted[i], model.ClassNames![model.Decide(y)]);
        }
    }

    [Theory]
    [InlineData("sdca")]
    [InlineData("ogd")]
    public void LinearRegression_OnDiabetes_WithMeanVariance_MatchesMlNetScores(string trainer)
    {
        var ds = BuiltinDatasets.Diabetes();
        var ml = new MLContext(seed: 1);
        var rows = ds.Features.Select((x, i) => new ValueRow { Features = ToFloat(x), Label = (float)ds.Targets[i] }).ToArray();
        var data = Load(ml, rows, ds.Columns);
        // fixZero: false keeps an offset in the normalizer, so the fold of (x − offset)·scale into the bias is exercised.
        var normalize = ml.Transforms.NormalizeMeanVariance("Features", fixZero: false);
        var trained = trainer == "sdca"
            ? normalize.Append(ml.Regression.Trainers.Sdca(maximumNumberOfIterations: 20)).Fit(data)
            : (ITransformer)normalize.Append(ml.Regression.Trainers.OnlineGradientDescent(numberOfIterations: 5)).Fit(data);
        var model = MlNetImporter.Import(trained, data.Schema);

        Assert.Equal(MlNetModel.Regression, model.Task);
        var scores = trained.Transform(data).GetColumn<float>("Score").ToArray();
        Assert.True(scores.Max() - scores.Min() > 10, "the regression should have learnt something");
        for (int i = 0; i < rows.Length; i++) AssertClose(scores[i], model.Network.Forward(ToDouble(rows[i].Features))[0], $"row {i}");
        Assert.Throws<InvalidOperationException>(() => model.Decide([1.0]));
    }

    [Fact]
    public void AveragedPerceptron_OnConcatenatedColumns_MatchesMlNet_AndPredictorParametersImportAlone()
    {
        var ds = BuiltinDatasets.BreastCancer();
        var ml = new MLContext(seed: 1);
        var rows = ds.Features.Select((x, i) => new BinaryRow { Features = ToFloat(x), Label = ds.Targets[i] == 1 }).ToArray();
        var data = Load(ml, rows, ds.Columns);
        var trained = ml.Transforms.CopyColumns("Raw", "Features")
            .Append(ml.Transforms.Concatenate("All", "Raw"))
            .Append(ml.Transforms.NormalizeMinMax("All"))
            .Append(ml.BinaryClassification.Trainers.AveragedPerceptron(featureColumnName: "All", numberOfIterations: 3)).Fit(data);
        var model = MlNetImporter.Import(trained, data.Schema);
        Assert.Equal("Features", model.FeatureColumn);
        Assert.Null(model.PlattSlope);
        var scored = trained.Transform(data);
        var scores = scored.GetColumn<float>("Score").ToArray();
        var labels = scored.GetColumn<bool>("PredictedLabel").ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            var y = model.Network.Forward(ToDouble(rows[i].Features));
            AssertClose(scores[i], y[0], $"row {i}");
            Assert.Equal(labels[i] ? 1 : 0, model.Decide(y));
        }

        // The predictor alone reads the normalized vector: without the normalizer its weights are ML.NET's as they are.
        var predictor = trained.LastTransformer;
        var alone = MlNetImporter.FromModelParameters(predictor.Model);
        var direct = MlNetImporter.Import(predictor);
        Assert.Equal(predictor.Model.Bias, alone.Network.Forward(new double[30])[0], 5);
        var unit = new double[30];
        unit[3] = 1;
        Assert.Equal(predictor.Model.Bias + predictor.Model.Weights[3], alone.Network.Forward(unit)[0], 5);
        Assert.Equal(alone.Network.Forward(unit), direct.Network.Forward(unit));
    }

    [Fact]
    public void ATextFeaturizer_IsRefusedByName_WithWhatToChange()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 40).Select(i => new TextRow { Features = [i % 7, i % 3], Text = i % 2 == 0 ? "fine clear day" : "grey cold night", Label = i % 2 == 0 }).ToArray();
        var data = Load(ml, rows, 2);
        var trained = ml.Transforms.Text.FeaturizeText("Words", "Text")
            .Append(ml.Transforms.Concatenate("All", "Features", "Words"))
            .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression(featureColumnName: "All", maximumNumberOfIterations: 5)).Fit(data);
        var e = Assert.Throws<MlNetImportException>(() => MlNetImporter.Import(trained, data.Schema));
        Assert.Contains("TextFeaturizingEstimator", e.Transformer);
        Assert.Contains("TextFeaturizingEstimator", e.Message);
        Assert.Contains("featurize on the client", e.Message);
    }

    [Fact]
    public void NonAffineNormalizers_NormalizingBeforeConcatenation_AndPoissonRegression_AreRefused()
    {
        var ml = new MLContext(seed: 1);
        var ds = BuiltinDatasets.Diabetes();
        var rows = ds.Features.Take(120).Select((x, i) => new ValueRow { Features = ToFloat(x), Label = (float)ds.Targets[i] }).ToArray();
        var data = Load(ml, rows, ds.Columns);

        var binned = ml.Transforms.NormalizeBinning("Features").Append(ml.Regression.Trainers.Sdca(maximumNumberOfIterations: 2)).Fit(data);
        var e = Assert.Throws<MlNetImportException>(() => MlNetImporter.Import(binned, data.Schema));
        Assert.Contains("BinNormalizerModelParameters", e.Message);
        Assert.Contains("NormalizeMinMax", e.Message);

        var early = ml.Transforms.NormalizeMinMax("Features")
            .Append(ml.Transforms.Concatenate("All", "Features", "Features"))
            .Append(ml.Regression.Trainers.Sdca(featureColumnName: "All", maximumNumberOfIterations: 2)).Fit(data);
        e = Assert.Throws<MlNetImportException>(() => MlNetImporter.Import(early, data.Schema));
        Assert.Contains("before it is concatenated", e.Message);

        var poisson = ml.Regression.Trainers.LbfgsPoissonRegression().Fit(data);
        e = Assert.Throws<MlNetImportException>(() => MlNetImporter.Import(poisson));
        Assert.Contains("Poisson", e.Message);
        Assert.Contains("not linear", e.Message);

        var chain = ml.Transforms.NormalizeMinMax("Features").Append(ml.Regression.Trainers.Sdca(maximumNumberOfIterations: 2)).Fit(data);
        Assert.Contains("schema", Assert.Throws<MlNetImportException>(() => MlNetImporter.Import(chain)).Message);
        Assert.Contains("not a linear model", Assert.Throws<MlNetImportException>(() => MlNetImporter.FromModelParameters("weights")).Message);
    }

    [Fact]
    public void NonFiniteWeights_GarbageFiles_AndOversizedLayers_AreRefused()
    {
        var e = Assert.Throws<MlNetImportException>(() => MlNetImporter.Build("test", MlNetModel.Binary, [[1, double.NaN]], [0]));
        Assert.Contains("NaN", e.Message);
        Assert.Throws<MlNetImportException>(() => MlNetImporter.Build("test", MlNetModel.Binary, [[1, 2]], [double.PositiveInfinity]));

        var path = Path.Combine(Path.GetTempPath(), $"veil-mlnet-{Guid.NewGuid():N}.zip");
        try
        {
            File.WriteAllBytes(path, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 31))]);
            Assert.Equal("file", Assert.Throws<MlNetImportException>(() => MlNetImporter.ImportFile(path)).Transformer);
        }
        finally { File.Delete(path); }
        Assert.Throws<FileNotFoundException>(() => MlNetImporter.ImportFile(path));

        int wide = 1 << 23;
        Assert.Contains("dense layer holds", Assert.Throws<MlNetImportException>(() => MlNetImporter.Build("test", MlNetModel.Multiclass,
            [.. Enumerable.Range(0, 3).Select(_ => new double[wide])], new double[3])).Message);
    }

    private static void AssertClose(double expected, double actual, string where)
    {
        double tolerance = Relative * Math.Max(1, Math.Abs(expected));
        Assert.True(Math.Abs(actual - expected) <= tolerance, $"{where}: Veil {actual}, ML.NET {expected}");
    }

    private static float[] ToFloat(double[] x) => [.. x.Select(v => (float)v)];

    private static double[] ToDouble(float[] x) => [.. x.Select(v => (double)v)];

    private static SchemaDefinition Definition<T>(int features)
    {
        var definition = SchemaDefinition.Create(typeof(T));
        definition["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features);
        return definition;
    }

    private static IDataView Load<T>(MLContext ml, IEnumerable<T> rows, int features) where T : class =>
        ml.Data.LoadFromEnumerable(rows, Definition<T>(features));
}
