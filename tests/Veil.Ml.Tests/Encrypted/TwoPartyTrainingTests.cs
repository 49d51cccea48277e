using Veil.Ckks;
using Veil.Ml.Data;
using Veil.Ml.Encrypted;
using Veil.Rlwe;
using Veil.Serialization;

namespace Veil.Ml.Tests.Encrypted;

/// <summary>Owner and trainer apart, exchanging only bytes, give the model the in-process API gives.</summary>
public class TwoPartyTrainingTests
{
    private static CkksParametersLiteral Small(int depth) => new()
    {
        LogN = 12, LogQ = [60, .. Enumerable.Repeat(30, depth)], LogP = [60], LogDefaultScale = 30, Security = SecurityLevel.InsecureNoCheck,
    };

    private static (double[][] X, double[] Y) Data(int rows, bool classes)
    {
        var rng = new Random(3);
        var x = Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, 4).Select(_ => rng.NextDouble() * 4 - 2).ToArray()).ToArray();
        var y = x.Select(r => 0.8 * r[0] - 0.5 * r[1] + 0.3 * r[3] + 0.1 * (rng.NextDouble() - 0.5)).Select(v => classes ? (v > 0 ? 1.0 : 0.0) : v).ToArray();
        return (x, y);
    }

    [Theory]
    [InlineData(GradientModelKind.Linear)]
    [InlineData(GradientModelKind.Logistic)]
    public void OwnerAndTrainer_ThroughSavedMessages_MatchTheInProcessModel(GradientModelKind kind)
    {
        bool logistic = kind == GradientModelKind.Logistic;
        var (x, y) = Data(200, logistic);
        var gd = logistic ? EncryptedLogisticRegression.DefaultGradientDescent with { Iterations = 2 } : EncryptedLinearRegression.DefaultGradientDescent with { Iterations = 2 };
        int depth = gd.Iterations * EncryptedGradientDescent.DepthPerIteration(logistic, gd) + 1;
        var parameters = CkksParameters.Create(Small(depth), SecurityLevel.InsecureNoCheck);

        // Owner: keys, preprocessing and encryption; the trainer receives bytes only.
        using var owner = CkksContext.Create(parameters, TwoPartyTraining.RequiredRotations(4, parameters.Slots));
        var (job, state) = TwoPartyTraining.Prepare(owner, x, y, kind, gd);
        byte[] publicBytes = owner.SavePublic(), jobBytes = job.Save(Compression.ZLib), stateBytes = state.Save();

        var trainer = CkksContext.Load(publicBytes, minimumSecurity: SecurityLevel.InsecureNoCheck);
        var weightBytes = TwoPartyTraining.Train(trainer, TrainingJob.Load(trainer, jobBytes)).Save();

        var model = TwoPartyTraining.Finish(owner, TrainingOwnerState.Load(stateBytes), EncryptedModelWeights.Load(owner, weightBytes));

        // The in-process model on the same data and parameters.
        var options = new EncryptedModelOptions { GradientDescent = gd, Parameters = Small(depth), MinimumSecurity = SecurityLevel.InsecureNoCheck };
        EncryptedGradientModel inProcess = logistic ? new EncryptedLogisticRegression(options) : new EncryptedLinearRegression(options);
        inProcess.Fit(x, y);
        Assert.Equal(inProcess.Weights.Length, model.Weights.Length);
        Assert.True(Math.Abs(inProcess.Intercept - model.Intercept) < 1e-3);
        for (int i = 0; i < model.Weights.Length; i++) Assert.True(Math.Abs(inProcess.Weights[i] - model.Weights[i]) < 1e-3, $"weight {i}");
        if (logistic) Assert.Equal(((EncryptedLogisticRegression)inProcess).Predict(x), ((EncryptedLogisticRegression)model).Predict(x));
    }

    [Fact]
    public void Messages_AreRefusedUnderOtherParameters_AndWhenMalformed()
    {
        var (x, y) = Data(50, false);
        var gd = EncryptedLinearRegression.DefaultGradientDescent with { Iterations = 1 };
        var parameters = CkksParameters.Create(Small(4), SecurityLevel.InsecureNoCheck);
        using var owner = CkksContext.Create(parameters, TwoPartyTraining.RequiredRotations(4, parameters.Slots));
        var (job, state) = TwoPartyTraining.Prepare(owner, x, y, GradientModelKind.Linear, gd);
        var bytes = job.Save();
        using var other = CkksContext.Create(CkksParameters.Create(Small(5), SecurityLevel.InsecureNoCheck), []);
        Assert.Equal("parameters", Assert.Throws<VeilFormatException>(() => TrainingJob.Load(other, bytes)).Field);
        var rng = new Random(8);
        for (int i = 0; i < 300; i++)
        {
            var mutated = (byte[])bytes.Clone();
            int at = VeilHeader.Size + rng.Next(Math.Min(64, mutated.Length - VeilHeader.Size));
            mutated[at] ^= (byte)(1 << rng.Next(8));
            try { TrainingJob.Load(owner, mutated); } catch (VeilFormatException) { }
        }
        var stateBytes = state.Save();
        stateBytes[VeilHeader.Size] = 9;
        Assert.Equal("kind", Assert.Throws<VeilFormatException>(() => TrainingOwnerState.Load(stateBytes)).Field);
    }
}
