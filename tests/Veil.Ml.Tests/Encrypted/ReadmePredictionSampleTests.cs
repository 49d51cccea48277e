using System.Globalization;
using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Ml.Models;
using Veil.Ml.Tests.Data;

namespace Veil.Ml.Tests.Encrypted;

public class ReadmePredictionSampleTests
{
    [Fact]
    public void ReadmeCsvToEncryptedPrediction_AgreesWithThePlaintextNetwork()
    {
        // A CSV with a header, as a user would have: the shipped breast-cancer rows, target column "diagnosis".
        var source = BuiltinDatasets.BreastCancer();
        using var files = new TempFiles();
        var lines = new List<string> { string.Join(",", source.FeatureNames.Select(n => n.Replace(' ', '_')).Append("diagnosis")) };
        lines.AddRange(source.Features.Select((r, i) => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "," + (source.Targets[i] == 1 ? "benign" : "malignant")));
        string path = files.Write("patients.csv", string.Join("\n", lines));

        // Same code as the README's "From a CSV file to an encrypted prediction".
        var data = CsvLoader.LoadForClassification(path, targetColumn: "diagnosis");
        var (train, test) = DataSplit.TrainTest(data, testFraction: 0.2, seed: 42, stratify: true);
        var scaler = new Standardizer().Fit(train.Features);
        var net = SquareMlp.Train(scaler.Transform(train.Features), train.Targets, hidden: 16, learningRate: 0.01);
        var inference = new EncryptedMlpInference(net, slots: 4096);
        using var client = CkksContext.Create(CkksParameters.Create(EncryptedMlpInference.DefaultParameters), inference.RequiredRotations);
        var row = scaler.Transform(test.Features)[0];
        var query = inference.EncryptSingle(client, row);                     // client: encrypts one row
        var logits = inference.EvaluateSingle(client.ToPublic(), query);      // server: public keys only
        double predicted = inference.DecryptSingle(client, logits);           // client: decrypts the class

        Assert.Equal(net.Predict([row])[0], predicted);
        Assert.True(net.Score(scaler.Transform(test.Features), test.Targets) >= 0.9, $"plaintext accuracy {net.Score(scaler.Transform(test.Features), test.Targets)}");
    }
}
