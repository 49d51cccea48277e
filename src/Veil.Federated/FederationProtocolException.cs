using Grpc.Core;

namespace Veil.Federated;

/// <summary>A message refused by the coordinator or a participant: <see cref="Status"/> is the gRPC status it is answered with.</summary>
public sealed class FederationProtocolException(StatusCode status, string message) : Exception(message)
{
    /// <summary>The status (PermissionDenied: not a member; FailedPrecondition: stale or replayed step; InvalidArgument: malformed payload).</summary>
    public StatusCode Status { get; } = status;

    /// <summary>A malformed or mis-sized payload.</summary>
    public static FederationProtocolException Invalid(string what) => new(StatusCode.InvalidArgument, what);
}
