using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Veil.Cluster;

/// <summary>
/// Places replica r of a session on the (h + r)-th silo of the compatible silos in address order, h a stable hash of the
/// session: a job's replicas land on different silos, and a session's keys live on the same few silos while the
/// membership holds (a replica that re-activates after a silo is lost goes to the next one).
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("veil.cluster.SessionReplicaPlacement")]
public sealed class SessionReplicaPlacement : PlacementStrategy
{
    internal static readonly SessionReplicaPlacement Instance = new();
}

/// <summary>Marks a grain keyed by <see cref="ShardKeys"/> for <see cref="SessionReplicaPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SessionReplicaPlacementAttribute : PlacementAttribute
{
    /// <summary>The attribute.</summary>
    public SessionReplicaPlacementAttribute() : base(SessionReplicaPlacement.Instance) { }
}

internal sealed class SessionReplicaPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray();
        if (silos.Length == 0) throw new OrleansException("No silo can host a session replica.");
        var (session, replica) = ShardKeys.Parse(target.GrainIdentity.Key.ToString()!);
        return Task.FromResult(silos[(int)((StableHash(session) + (uint)replica) % (uint)silos.Length)]);
    }

    // FNV-1a: the same on every silo and in every process (string.GetHashCode is randomized per process).
    private static uint StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) { h ^= c; h *= 16777619; }
        return h;
    }
}
