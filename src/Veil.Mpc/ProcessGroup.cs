using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using Veil.Protection;

namespace Veil.Mpc;

/// <summary>What a party (or the dealer) announces before the mesh is built: its certificate's pin and the loopback port it listens on for each peer.</summary>
/// <param name="Role">A party number, or 255 for the dealer.</param>
/// <param name="Pin">SHA-256 pin of its public key (its private key never leaves its process).</param>
/// <param name="Ports">For each peer that connects to it, the port of the listener reserved for that peer.</param>
public sealed record MpcHello(int Role, string Pin, Dictionary<int, int> Ports);

/// <summary>What the launcher tells each node once every hello is in: the session and, for each peer, its pin and (when this node connects to it) its port.</summary>
/// <param name="Session">The session id, hex.</param>
/// <param name="Peers">Role → (pin, port); port 0 where the peer connects to this node.</param>
public sealed record MpcPlan(string Session, Dictionary<int, MpcPeer> Peers);

/// <summary>A peer in an <see cref="MpcPlan"/>.</summary>
public sealed record MpcPeer(string Pin, int Port);

/// <summary>
/// One node of an MPC group run as separate OS processes on loopback: it makes its own TLS key, listens on one port per
/// peer that connects to it (accepting only that peer's pinned key there), and, given the plan, connects to the rest.
/// Party i accepts from parties j &gt; i and connects to parties j &lt; i and to the dealer; the dealer accepts from every party.
/// </summary>
public sealed class MpcNode : IDisposable
{
    private readonly X509Certificate2 _certificate;
    private readonly Dictionary<int, TcpListener> _listeners;

    private MpcNode(int role, int parties, bool dealer, X509Certificate2 certificate, Dictionary<int, TcpListener> listeners)
    {
        Role = role;
        Parties = parties;
        HasDealer = dealer;
        _certificate = certificate;
        _listeners = listeners;
    }

    /// <summary>A party number, or <see cref="MpcFrame.Dealer"/>.</summary>
    public int Role { get; }
    /// <summary>Parties in the group (the dealer not counted).</summary>
    public int Parties { get; }
    /// <summary>Whether the group has a dealer.</summary>
    public bool HasDealer { get; }

    /// <summary>Creates the node's key and its listeners on loopback (ports chosen by the system).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A role outside the group, or a dealer role without a dealer.</exception>
    public static MpcNode Listen(int role, int parties, bool dealer)
    {
        if (parties < 2 || parties > MpcSession.MaxParties) throw new ArgumentOutOfRangeException(nameof(parties), parties, $"2 … {MpcSession.MaxParties} parties.");
        if (!(role >= 0 && role < parties) && !(dealer && role == MpcFrame.Dealer)) throw new ArgumentOutOfRangeException(nameof(role), role, $"A role is a party 0 … {parties - 1}{(dealer ? " or the dealer (255)" : "")}.");
        var certificate = Tls.CreateDevelopmentCertificate(role == MpcFrame.Dealer ? "veil-mpc-dealer" : $"veil-mpc-party-{role}", ["localhost"]);
        var accepts = role == MpcFrame.Dealer ? Enumerable.Range(0, parties) : Enumerable.Range(role + 1, parties - role - 1);
        var listeners = new Dictionary<int, TcpListener>();
        foreach (int peer in accepts)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start(1);
            listeners[peer] = listener;
        }
        return new MpcNode(role, parties, dealer, certificate, listeners);
    }

    /// <summary>This node's announcement.</summary>
    public MpcHello Hello => new(Role, Tls.Pin(_certificate), _listeners.ToDictionary(p => p.Key, p => ((IPEndPoint)p.Value.LocalEndpoint).Port));

    /// <summary>
    /// Builds this node's channels from the plan: result[j] for party j (null for itself), and the dealer's channel
    /// (for a party of a group with a dealer) as <c>Dealer</c>. Every handshake is mutual TLS against the plan's pins.
    /// </summary>
    /// <exception cref="MpcProtocolException">A peer is missing from the plan ("plan"), does not answer ("connect") or a handshake failed ("tls").</exception>
    public async Task<(IMpcChannel?[] Peers, IMpcChannel? Dealer)> ConnectAsync(MpcPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var peers = new IMpcChannel?[Parties];
        IMpcChannel? dealerChannel = null;
        var tasks = new List<Task>();
        MpcPeer Peer(int role) => plan.Peers.TryGetValue(role, out var p) ? p : throw new MpcProtocolException("plan", $"The plan has no entry for {(role == MpcFrame.Dealer ? "the dealer" : $"party {role}")}.");
        var roles = Role == MpcFrame.Dealer ? Enumerable.Range(0, Parties) : Enumerable.Range(0, Parties).Where(j => j != Role).Append(HasDealer ? MpcFrame.Dealer : -1).Where(j => j != -1);
        foreach (int role in roles)
        {
            var peer = Peer(role);
            tasks.Add(Task.Run(async () =>
            {
                var channel = _listeners.TryGetValue(role, out var listener)
                    ? await MpcTls.AcceptAsync(listener, _certificate, [peer.Pin], cancellationToken).ConfigureAwait(false)
                    : await MpcTls.ConnectAsync(new IPEndPoint(IPAddress.Loopback, peer.Port), _certificate, [peer.Pin], cancellationToken).ConfigureAwait(false);
                if (role == MpcFrame.Dealer) dealerChannel = channel;
                else lock (peers) peers[role] = channel;
            }, cancellationToken));
        }
        try { await Task.WhenAll(tasks).ConfigureAwait(false); }
        catch
        {
            // The channels already open are closed, so the peers on them stop too.
            foreach (var c in peers) (c as IDisposable)?.Dispose();
            (dealerChannel as IDisposable)?.Dispose();
            throw;
        }
        return (peers, dealerChannel);
    }

    /// <summary>Stops the listeners and forgets the key.</summary>
    public void Dispose()
    {
        foreach (var l in _listeners.Values) l.Stop();
        _certificate.Dispose();
    }
}

/// <summary>
/// Starts an MPC group as separate OS processes and wires it: each node prints its <see cref="MpcHello"/> as its first
/// line of output, reads its <see cref="MpcPlan"/> as its first line of input, and prints its result as its last line.
/// If a node fails or exits early, the others are stopped: no partial result is taken.
/// </summary>
public static class MpcProcessGroup
{
    /// <summary>The JSON options of hellos, plans and results (snake_case).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>How long the other nodes get to stop on their own after one fails.</summary>
    public static TimeSpan FailureGrace { get; } = TimeSpan.FromSeconds(5);

    /// <summary>What one node returned: its role, exit code, last line of output and its error output.</summary>
    public sealed record NodeResult(int Role, int ExitCode, string? Result, string Errors);

    /// <summary>
    /// Runs <paramref name="parties"/> party processes (and a dealer process when <paramref name="dealer"/>), each
    /// started from <paramref name="start"/>(role), and returns every node's result.
    /// </summary>
    /// <exception cref="MpcProtocolException">A node did not announce itself ("hello") or the group did not finish in time ("timeout").</exception>
    public static async Task<IReadOnlyList<NodeResult>> RunAsync(int parties, bool dealer, Func<int, ProcessStartInfo> start, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(start);
        if (parties < 2 || parties > MpcSession.MaxParties) throw new ArgumentOutOfRangeException(nameof(parties), parties, $"2 … {MpcSession.MaxParties} parties.");
        var roles = Enumerable.Range(0, parties).Concat(dealer ? [MpcFrame.Dealer] : []).ToArray();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var processes = new Dictionary<int, Process>();
        try
        {
            foreach (int role in roles)
            {
                var info = start(role);
                info.RedirectStandardInput = info.RedirectStandardOutput = info.RedirectStandardError = true;
                info.UseShellExecute = false;
                processes[role] = Process.Start(info) ?? throw new InvalidOperationException($"Could not start node {role}.");
            }
            var errors = processes.ToDictionary(p => p.Key, p => p.Value.StandardError.ReadToEndAsync(deadline.Token));
            var hellos = new Dictionary<int, MpcHello>();
            foreach (var (role, process) in processes)
            {
                string? line = await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false);
                hellos[role] = ParseHello(line, role, parties)
                    ?? throw new MpcProtocolException("hello", $"Node {role} did not announce itself (it said: {Shorten(line)}; {await SafeErrors(errors[role]).ConfigureAwait(false)}).");
            }
            var session = Convert.ToHexString(MpcSession.NewId());
            foreach (var (role, process) in processes)
            {
                var peers = new Dictionary<int, MpcPeer>();
                foreach (int other in roles.Where(r => r != role))
                {
                    // The node connects to a peer that listens for it; otherwise the peer connects here.
                    int port = hellos[other].Ports.TryGetValue(role, out var p) ? p : 0;
                    peers[other] = new MpcPeer(hellos[other].Pin, port);
                }
                await process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new MpcPlan(session, peers), Json).AsMemory(), deadline.Token).ConfigureAwait(false);
                await process.StandardInput.FlushAsync(deadline.Token).ConfigureAwait(false);
            }
            var outputs = processes.ToDictionary(p => p.Key, p => p.Value.StandardOutput.ReadToEndAsync(deadline.Token));
            var exits = processes.Select(p => p.Value.WaitForExitAsync(deadline.Token)).ToList();
            // The first node that fails stops the group: the others are killed rather than left waiting on it.
            var byExit = processes.ToDictionary(p => exits[Array.IndexOf([.. processes.Keys], p.Key)], p => p.Value);
            while (exits.Count > 0)
            {
                var done = await Task.WhenAny(exits).ConfigureAwait(false);
                await done.ConfigureAwait(false);
                exits.Remove(done);
                if (byExit[done].ExitCode != 0)
                {
                    // Its peers see their channels close and stop on their own, saying why; whoever still waits after that is killed.
                    try { await Task.WhenAll(exits).WaitAsync(FailureGrace, deadline.Token).ConfigureAwait(false); } catch (TimeoutException) { }
                    foreach (var other in processes.Values)
                        try { if (!other.HasExited) other.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                    foreach (var other in processes.Values) await other.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
                    break;
                }
            }
            var results = new List<NodeResult>();
            foreach (var (role, process) in processes)
            {
                var lines = (await outputs[role].ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                results.Add(new NodeResult(role, process.ExitCode, lines.LastOrDefault(), await SafeErrors(errors[role]).ConfigureAwait(false)));
            }
            return results;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MpcProtocolException("timeout", $"The group did not finish within {timeout.TotalSeconds:F0} s; every node was stopped.");
        }
        finally
        {
            foreach (var p in processes.Values)
            {
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.Dispose();
            }
        }
    }

    /// <summary>
    /// A node's first line as its hello, or null: valid JSON of at most <see cref="MpcNodeHost.MaxPlanChars"/> characters,
    /// the expected role, a pin, and ports (1 … 65535) only for parties of the group.
    /// </summary>
    public static MpcHello? ParseHello(string? line, int role, int parties)
    {
        if (line is null || line.Length > MpcNodeHost.MaxPlanChars) return null;
        MpcHello? hello;
        try { hello = JsonSerializer.Deserialize<MpcHello>(line, Json); }
        catch (JsonException) { return null; }
        if (hello is null || hello.Role != role || string.IsNullOrEmpty(hello.Pin) || hello.Pin.Length > 256 || hello.Ports is null) return null;
        if (hello.Ports.Count > parties || hello.Ports.Any(p => p.Key < 0 || p.Key >= parties || p.Key == role || p.Value is < 1 or > 65535)) return null;
        return hello;
    }

    private static string Shorten(string? line) => line is null ? "nothing" : line.Length <= 200 ? line : line[..200] + "…";

    private static async Task<string> SafeErrors(Task<string> errors)
    {
        try { return (await errors.ConfigureAwait(false)).Trim(); }
        catch (OperationCanceledException) { return ""; }
    }
}

/// <summary>The node side of <see cref="MpcProcessGroup"/>: announce, read the plan, build the mesh, run, print the result.</summary>
public static class MpcNodeHost
{
    /// <summary>Bounds the plan line a node reads (its peers' pins and ports).</summary>
    public const int MaxPlanChars = 64 * 1024;

    /// <summary>
    /// Runs a party: announces itself on <paramref name="output"/>, reads the plan from <paramref name="input"/>,
    /// connects, runs <paramref name="program"/> on its session and returns the program's result. <paramref name="wrap"/>
    /// (peer, channel) may replace a channel (fault injection in tests).
    /// </summary>
    /// <exception cref="MpcProtocolException">The plan is malformed ("plan"), a handshake failed, or a peer misbehaved.</exception>
    public static async Task<T> RunPartyAsync<T>(int party, int parties, bool dealer, TextReader input, TextWriter output, Func<MpcSession, Task<T>> program,
        ITripleSource? triples = null, Func<int, IMpcChannel, IMpcChannel>? wrap = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(program);
        using var node = MpcNode.Listen(party, parties, dealer);
        var plan = await AnnounceAsync(node, input, output, cancellationToken).ConfigureAwait(false);
        var (peers, dealerChannel) = await node.ConnectAsync(plan, cancellationToken).ConfigureAwait(false);
        if (wrap is not null)
            for (int j = 0; j < peers.Length; j++)
                if (peers[j] is { } c) peers[j] = wrap(j, c);
        try
        {
            var session = new MpcSession(SessionId(plan), party, peers, dealerChannel) { Triples = triples ?? DealerTriples.Instance };
            return await program(session).ConfigureAwait(false);
        }
        finally
        {
            (dealerChannel as IDisposable)?.Dispose();
            foreach (var c in peers) (c as IDisposable)?.Dispose();
        }
    }

    /// <summary>Runs the dealer until every party has closed its channel.</summary>
    public static async Task RunDealerAsync(int parties, TextReader input, TextWriter output, CancellationToken cancellationToken = default)
    {
        using var node = MpcNode.Listen(MpcFrame.Dealer, parties, dealer: true);
        var plan = await AnnounceAsync(node, input, output, cancellationToken).ConfigureAwait(false);
        var (peers, _) = await node.ConnectAsync(plan, cancellationToken).ConfigureAwait(false);
        try { await new TrustedDealer(SessionId(plan), [.. peers.Select(p => p!)]).RunAsync(cancellationToken).ConfigureAwait(false); }
        finally { foreach (var c in peers) (c as IDisposable)?.Dispose(); }
    }

    private static async Task<MpcPlan> AnnounceAsync(MpcNode node, TextReader input, TextWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteLineAsync(JsonSerializer.Serialize(node.Hello, MpcProcessGroup.Json).AsMemory(), cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        string? line = await input.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (line is null || line.Length > MaxPlanChars) throw new MpcProtocolException("plan", line is null ? "No plan arrived." : $"The plan has {line.Length} characters; at most {MaxPlanChars}.");
        MpcPlan? plan;
        try { plan = JsonSerializer.Deserialize<MpcPlan>(line, MpcProcessGroup.Json); }
        catch (JsonException e) { throw new MpcProtocolException("plan", $"The plan is not valid JSON: {e.Message}"); }
        if (plan?.Session is null || plan.Peers is null || plan.Peers.Values.Any(p => p?.Pin is null || p.Port is < 0 or > 65535))
            throw new MpcProtocolException("plan", "The plan lacks the session or a peer's pin, or has a bad port.");
        SessionId(plan);
        return plan;
    }

    private static byte[] SessionId(MpcPlan plan)
    {
        try
        {
            var id = Convert.FromHexString(plan.Session);
            return id.Length == MpcSession.IdSize ? id : throw new MpcProtocolException("plan", $"The session id is {id.Length} bytes, not {MpcSession.IdSize}.");
        }
        catch (FormatException) { throw new MpcProtocolException("plan", "The session id is not hex."); }
    }
}
