using Grpc.Core;
using Veil.Federated.Protocol;

namespace Veil.Federated.Tests;

public sealed class FailoverChannelTests
{
    private sealed class Scripted(StatusCode? fails) : IFederationChannel
    {
        public int Calls;
        public Task<Work> PollAsync(PollRequest request, CancellationToken cancellation)
        {
            Calls++;
            return fails is { } s ? Task.FromException<Work>(new RpcException(new Status(s, "scripted"))) : Task.FromResult(new Work { Kind = WorkKind.Wait });
        }
        public Task<Receipt> SubmitAsync(Submission submission, CancellationToken cancellation)
        {
            Calls++;
            return fails is { } s ? Task.FromException<Receipt>(new RpcException(new Status(s, "scripted"))) : Task.FromResult(new Receipt { Accepted = true });
        }
    }

    [Fact]
    public async Task ALostFrontEndSendsTheNextCallToTheNextOneAndARefusalStaysPut()
    {
        var dead = new Scripted(StatusCode.Unavailable);
        var live = new Scripted(null);
        var channel = new FailoverFederationChannel([dead, live], first: 2);
        Assert.Equal(0, channel.Current); // 2 mod 2
        await Assert.ThrowsAsync<RpcException>(() => channel.PollAsync(new PollRequest(), default));
        Assert.Equal(1, channel.Current);
        Assert.Equal(WorkKind.Wait, (await channel.PollAsync(new PollRequest(), default)).Kind);
        Assert.True((await channel.SubmitAsync(new Submission(), default)).Accepted);
        Assert.Equal((1, 2, 1), (dead.Calls, live.Calls, channel.Moves));

        // A refusal (a replayed step) is the coordinator's answer, not a lost front end: the next call goes to the same one.
        var refusing = new Scripted(StatusCode.FailedPrecondition);
        var other = new Scripted(null);
        var stays = new FailoverFederationChannel([refusing, other]);
        await Assert.ThrowsAsync<RpcException>(() => stays.SubmitAsync(new Submission(), default));
        Assert.Equal((0, 0), (stays.Current, stays.Moves));
        Assert.Throws<ArgumentException>(() => new FailoverFederationChannel([]));
    }
}

public sealed class ContributionReferenceTests
{
    [Fact]
    public void ACoordinatorSummingItselfRefusesAContributionByReference()
    {
        var plan = new FederationPlan(new FederationSettings { Threshold = 2, Features = 4, CoordinatorPin = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData([9])), Members = [.. Enumerable.Range(0, 3).Select(i => new FederationMember($"p{i}", Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData([(byte)i])), "key" + i))] });
        var aggregator = new LocalContributionAggregator(plan);
        var byReference = new Submission { ContributionShard = "elsewhere/silo", ContributionCount = 1 };
        var e = Assert.Throws<FederationProtocolException>(() => aggregator.Load(0, byReference, plan.UpdateLength));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, e.Status);
        Assert.Throws<FederationProtocolException>(() => aggregator.Load(0, new Submission(), plan.UpdateLength)); // no ciphertexts at all
    }
}
