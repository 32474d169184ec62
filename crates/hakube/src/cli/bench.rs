//! `hakube bench`: load generators that measure hakube and the real peers it replaces alike.

use std::path::PathBuf;
use std::time::Duration;

use bench::store::{Consistency, Mix, Options, Preset, TlsFiles};
use clap::{Args, Subcommand, ValueEnum};

/// Options for the load generators.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

/// What to put under load.
#[derive(Subcommand, Debug)]
enum BenchTarget {
    /// Drive etcd v3 endpoints (hakube's or a real etcd's) with puts, ranges and transactions.
    // Boxed so that the top-level command enum stays small (clippy's large_enum_variant).
    Store(Box<StoreBenchArgs>),
    /// Drive a Kubernetes API server (hakube's or a real one) with ConfigMap reads, writes and watches.
    ///
    /// Connects as kubectl does, through a kubeconfig. Creates, gets, lists and updates
    /// ConfigMaps while some clients keep a watch open and time how soon the run's own writes
    /// reach them; works in a fresh namespace (or --namespace) and deletes what it created.
    Api(Box<ApiBenchArgs>),
    /// Measure pod start-up latency and scheduler throughput on a cluster (hakube's or a real one).
    ///
    /// Opens a watch, then creates --count pods (tiny requests, no grace period) as fast as the
    /// server takes them, and times each from its create returning to the watch showing it bound,
    /// then Running with its containers started. Reports the percentiles with the verdict of
    /// Kubernetes' start-up SLO (p99 <= 5s) and the pods bound per second; works in a fresh
    /// namespace (or --namespace) and deletes what it created.
    Pods(Box<PodsBenchArgs>),
}

/// `hakube bench store`. Options left out fall back to the preset's value, then to the default.
#[derive(Args, Debug)]
struct StoreBenchArgs {
    /// Endpoints, comma separated: host:port, http://host:port or https://host:port.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:2379")]
    endpoints: Vec<String>,
    /// CA certificate that signed the servers' certificates (makes bare host:port endpoints TLS).
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// Client certificate, for servers that require one.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Key of the client certificate.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Concurrent request loops [default: 100].
    #[arg(long)]
    clients: Option<usize>,
    /// gRPC connections, shared round-robin by the clients [default: 1, or one per client with a preset].
    #[arg(long)]
    conns: Option<usize>,
    /// Requests to send [default: 10000 unless --duration is given].
    #[arg(long)]
    total: Option<u64>,
    /// How long to run, e.g. 30s, 2m (with --total too, whichever ends first).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Requests per second over all clients; 0 means unlimited [default: unlimited].
    #[arg(long)]
    rate: Option<u64>,
    /// Weights of the operations, e.g. put=50,range=40,txn=10 [default: put=100].
    #[arg(long, value_parser = parse_mix)]
    mix: Option<Mix>,
    /// Bytes per key, after the prefix [default: 8].
    #[arg(long)]
    key_size: Option<usize>,
    /// Bytes per value [default: 256].
    #[arg(long)]
    val_size: Option<usize>,
    /// Distinct keys, picked at random unless --sequential-keys [default: 10000].
    #[arg(long)]
    key_space_size: Option<u64>,
    /// Take keys in order (wrapping at the end of the key space) instead of at random.
    #[arg(long)]
    sequential_keys: bool,
    /// Prefix of every key [default: none].
    #[arg(long)]
    prefix: Option<String>,
    /// Serve ranges through the leader's read index (the default).
    #[arg(long, conflicts_with = "serializable")]
    linearizable: bool,
    /// Serve ranges from the local member's state.
    #[arg(long)]
    serializable: bool,
    /// Send every request to the leader, found through Maintenance.Status.
    #[arg(long)]
    target_leader: bool,
    /// How long one request may take before it counts as an error, e.g. 10s [default: 10s].
    #[arg(long, value_parser = parse_duration)]
    request_timeout: Option<Duration>,
    /// A load that mimics another tool's; check-perf-l is `etcdctl check perf --load=l`.
    #[arg(long, value_enum)]
    preset: Option<PresetArg>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Name of the run in the output [default: the endpoints].
    #[arg(long)]
    label: Option<String>,
}

/// `hakube bench api`. Works on ConfigMaps in a namespace of its own (or the one given), and
/// deletes what it created when it ends.
#[derive(Args, Debug)]
struct ApiBenchArgs {
    /// Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use [default: its current context].
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Existing namespace to work in; only the run's own ConfigMaps are deleted afterwards
    /// [default: a fresh bench-<random> namespace, deleted afterwards].
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Concurrent clients; the watch weight's share of them keep a watch open instead of
    /// sending requests [default: 16].
    #[arg(long, value_name = "N")]
    clients: Option<usize>,
    /// How long to run, e.g. 20s, 2m (with --total too, whichever ends first)
    /// [default: 20s unless --total is given].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Requests to send over all clients; watch events do not count.
    #[arg(long, value_name = "N")]
    total: Option<u64>,
    /// Weights of the operations: create (new objects), get, list and update (get, change,
    /// replace; conflicts are retried) of the pre-created objects, and watch (share of clients
    /// that time event delivery of the run's writes)
    /// [default: create=20,get=40,list=10,update=20,watch=10].
    #[arg(long, value_parser = parse_api_mix)]
    mix: Option<bench::api::Mix>,
    /// Bytes of data per ConfigMap [default: 1024].
    #[arg(long, value_name = "BYTES")]
    object_size: Option<usize>,
    /// ConfigMaps created before the run for get, list and update; a list returns them all
    /// [default: 100].
    #[arg(long, value_name = "N")]
    list_size: Option<usize>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Name of the run in the output [default: the server's URL].
    #[arg(long)]
    label: Option<String>,
}

/// `hakube bench pods`. Creates its pods in a namespace of its own (or the one given), and
/// deletes them when it ends.
#[derive(Args, Debug)]
struct PodsBenchArgs {
    /// Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use [default: its current context].
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Existing namespace to work in; only the run's own pods are deleted afterwards
    /// [default: a fresh bench-pods-<random> namespace, deleted afterwards].
    #[arg(short = 'n', long, value_name = "NS")]
    namespace: Option<String>,
    /// Pods to create [default: 100].
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Create calls in flight at once [default: 10].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Image of the pods' one container [default: hakube/pause].
    #[arg(long)]
    image: Option<String>,
    /// How long the pods get, from the first create, to start; those that have not by then
    /// are reported as not started, e.g. 2m [default: 120s].
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// Name of the run in the output [default: the server's URL].
    #[arg(long)]
    label: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Output {
    /// A table for people.
    Table,
    /// One JSON object.
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PresetArg {
    /// 500 clients, one connection each, 1 KiB puts at up to 8000/s for 60s, with etcdctl's bar.
    CheckPerfL,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    bench::parse_duration(text).map_err(|error| error.to_string())
}

fn parse_mix(text: &str) -> Result<Mix, String> {
    text.parse::<Mix>().map_err(|error| error.to_string())
}

fn parse_api_mix(text: &str) -> Result<bench::api::Mix, String> {
    text.parse::<bench::api::Mix>()
        .map_err(|error| error.to_string())
}

/// Runs a load generator.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.target {
        BenchTarget::Store(args) => run_store(*args).await,
        BenchTarget::Api(args) => run_api(*args).await,
        BenchTarget::Pods(args) => run_pods(*args).await,
    }
}

async fn run_store(args: StoreBenchArgs) -> anyhow::Result<()> {
    let output = args.output;
    let options = Options {
        endpoints: args.endpoints,
        tls: TlsFiles {
            cacert: args.cacert,
            cert: args.cert,
            key: args.key,
        },
        clients: args.clients,
        conns: args.conns,
        total: args.total,
        duration: args.duration,
        rate: args.rate,
        mix: args.mix,
        key_size: args.key_size,
        val_size: args.val_size,
        key_space_size: args.key_space_size,
        sequential_keys: args.sequential_keys,
        prefix: args.prefix,
        consistency: match (args.linearizable, args.serializable) {
            (false, true) => Consistency::Serializable,
            // clap rejects both flags together; neither means etcd's default.
            _ => Consistency::Linearizable,
        },
        target_leader: args.target_leader,
        request_timeout: args.request_timeout,
        label: args.label,
        preset: args.preset.map(|preset| match preset {
            PresetArg::CheckPerfL => Preset::CheckPerfL,
        }),
    };
    let config = options.resolve()?;
    // Long runs say what they are doing; stderr keeps stdout clean for -o json.
    if config
        .duration
        .is_some_and(|duration| duration >= Duration::from_secs(5))
    {
        eprintln!(
            "hakube bench store: running {} (Ctrl-C stops early and still reports)",
            config.label
        );
    }
    let report = bench::store::run(&config, super::interrupted()).await?;
    match output {
        Output::Table => print!("{}", report.to_table()),
        Output::Json => println!("{}", report.to_json()),
    }
    Ok(())
}

async fn run_api(args: ApiBenchArgs) -> anyhow::Result<()> {
    let output = args.output;
    let options = bench::api::Options {
        kubeconfig: args.kubeconfig,
        context: args.context,
        namespace: args.namespace,
        clients: args.clients,
        duration: args.duration,
        total: args.total,
        mix: args.mix,
        object_size: args.object_size,
        list_size: args.list_size,
        label: args.label,
    };
    let config = options.resolve()?;
    // Long runs say what they are doing; stderr keeps stdout clean for -o json.
    if config
        .duration
        .is_some_and(|duration| duration >= Duration::from_secs(5))
    {
        eprintln!(
            "hakube bench api: running {} clients, {} (Ctrl-C stops early, still reports and cleans up)",
            config.clients(),
            config.mix
        );
    }
    let report = bench::api::run(&config, super::interrupted()).await?;
    match output {
        Output::Table => print!("{}", report.to_table()),
        Output::Json => println!("{}", report.to_json()),
    }
    Ok(())
}

async fn run_pods(args: PodsBenchArgs) -> anyhow::Result<()> {
    let output = args.output;
    let options = bench::pods::Options {
        kubeconfig: args.kubeconfig,
        context: args.context,
        namespace: args.namespace,
        count: args.count,
        concurrency: args.concurrency,
        image: args.image,
        timeout: args.timeout,
        label: args.label,
    };
    let config = options.resolve()?;
    // Pods take a while to start; say what is going on. stderr keeps stdout clean for -o json.
    eprintln!(
        "hakube bench pods: creating {} pods of {}, {} at a time (Ctrl-C stops early, still reports and cleans up)",
        config.count, config.image, config.concurrency
    );
    let report = bench::pods::run(&config, super::interrupted()).await?;
    match output {
        Output::Table => print!("{}", report.to_table()),
        Output::Json => println!("{}", report.to_json()),
    }
    Ok(())
}
