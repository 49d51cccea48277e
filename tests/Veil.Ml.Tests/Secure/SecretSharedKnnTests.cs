using Veil.Ml.Data;
using Veil.Ml.Secure;
using Veil.Mpc;

namespace Veil.Ml.Tests.Secure;

public class SecretSharedKnnTests
{
    [Theory]
    [InlineData(2, 5)]
    [InlineData(3, 3)]
    public void Iris_SecureTopKVote_EqualsPlaintextKnn_AndOnlyTheQuerierLearnsIt(int parties, int k)
    {
        var (train, test) = DataSplit.TrainTest(BuiltinDatasets.Iris(), 0.2, seed: 3, stratify: true);
        int querier = parties - 1;
        var blocks = Enumerable.Range(0, parties).Select(p =>
        {
            int from = train.Rows * p / parties, to = train.Rows * (p + 1) / parties;
            return (Rows: train.Features[from..to], Labels: train.Targets[from..to]);
        }).ToArray();
        var results = InProcessRun.Parties(parties, _ => DealerTriples.Instance, s =>
            SecretSharedKnn.ClassifyPartyAsync(s, blocks[s.Party].Rows, blocks[s.Party].Labels, train.Columns, train.ClassCount, k, querier,
                s.Party == querier ? test.Features : null));
        var twin = SecretSharedKnn.ClassifyPlaintext(train.Features, train.Targets, train.ClassCount, k, test.Features);
        for (int p = 0; p < parties; p++) Assert.Equal(p == querier, results[p].Predictions is not null);
        Assert.Equal(twin, results[querier].Predictions);
        double accuracy = Metrics.Accuracy(test.Targets, [.. twin.Select(c => (double)c)]);
        Assert.True(accuracy > 0.85, $"plaintext KNN accuracy {accuracy:P1}");
    }

    [Fact]
    public void TheTwin_BreaksTiesByTheFirstReference_AndTheFirstClass()
    {
        // Two references at the same distance from the query, of classes 1 and 0: k = 1 takes the first (class 1);
        // k = 2 ties the vote 1–1 and takes class 0.
        double[][] refs = [[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0]];
        double[] labels = [1, 0, 2];
        Assert.Equal([1], SecretSharedKnn.ClassifyPlaintext(refs, labels, 3, 1, [[0.0, 0.0]]));
        Assert.Equal([0], SecretSharedKnn.ClassifyPlaintext(refs, labels, 3, 2, [[0.0, 0.0]]));
        var results = InProcessRun.Parties(2, _ => DealerTriples.Instance, s =>
            SecretSharedKnn.ClassifyPartyAsync(s, s.Party == 0 ? refs : [], s.Party == 0 ? labels : [], 2, 3, 2, 1, s.Party == 1 ? [[0.0, 0.0]] : null));
        Assert.Equal([0], results[1].Predictions!);
    }
}
