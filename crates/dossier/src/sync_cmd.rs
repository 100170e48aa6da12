//! `dossier sync`: pull from and push to other TAXII 2.1 servers, once or every so often,
//! with peers from flags or from the configuration file's `[[peers]]` (the same that
//! `dossier serve` runs in the background).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use dossier_server::sync::{Auth, Peer};
use dossier_stix::Tlp;

/// One `[[peers]]` entry of the configuration file.
#[derive(serde::Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub name: String,
    /// The peer's TAXII API root URL.
    pub url: String,
    #[serde(default)]
    pub collections: Vec<String>,
    pub into: Option<String>,
    pub tlp: Option<String>,
    pub pull: Option<bool>,
    pub push: Option<bool>,
    pub agreement: Option<bool>,
    pub forward: Option<bool>,
    #[serde(default)]
    pub push_from: Vec<String>,
    /// A Bearer token, or the environment variable holding it.
    pub token: Option<String>,
    pub token_env: Option<String>,
    /// Basic authentication: the user, and the password or the variable holding it.
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    pub page: Option<usize>,
    pub retries: Option<u32>,
    /// Seconds between background runs.
    pub interval: Option<u64>,
    pub public_only: Option<bool>,
}

fn secret(name: &str, inline: &Option<String>, env: &Option<String>, what: &str) -> Result<Option<String>> {
    match (inline, env) {
        (Some(_), Some(_)) => bail!("peer {name:?}: give {what} or {what}_env, not both"),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(var)) => Ok(Some(
            std::env::var(var).with_context(|| format!("peer {name:?}: environment variable {var} is not set"))?,
        )),
        (None, None) => Ok(None),
    }
}

impl PeerConfig {
    pub fn to_peer(&self) -> Result<Peer> {
        let mut p = Peer::new(&self.name, &self.url);
        p.collections = self.collections.clone();
        p.into = self.into.clone();
        if let Some(t) = &self.tlp {
            p.tlp = Tlp::parse(t).with_context(|| format!("peer {:?}: unknown TLP level {t:?}", self.name))?;
        }
        p.pull = self.pull.unwrap_or(true);
        p.push = self.push.unwrap_or(false);
        p.agreement = self.agreement.unwrap_or(false);
        p.forward = self.forward.unwrap_or(false);
        p.push_from = self.push_from.clone();
        let token = secret(&self.name, &self.token, &self.token_env, "token")?;
        let password = secret(&self.name, &self.password, &self.password_env, "password")?;
        p.auth = match (token, &self.user, password) {
            (Some(_), Some(_), _) => bail!("peer {:?}: a token or a user, not both", self.name),
            (Some(t), None, _) => Auth::Bearer(t),
            (None, Some(user), Some(password)) => Auth::Basic { user: user.clone(), password },
            (None, Some(_), None) => bail!("peer {:?}: a user needs a password (or password_env)", self.name),
            (None, None, _) => Auth::None,
        };
        if let Some(n) = self.page {
            p.page = n;
        }
        if let Some(n) = self.retries {
            p.retries = n;
        }
        if let Some(s) = self.interval {
            p.interval = Duration::from_secs(s.max(1));
        }
        p.public_only = self.public_only.unwrap_or(false);
        p.check().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(p)
    }
}

#[derive(Args)]
pub struct SyncArgs {
    /// Configuration file whose `[[peers]]` to run (the one `dossier serve` reads).
    #[arg(long, env = "DOSSIER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only these configured peers (repeatable); with --url: the name of the peer given.
    #[arg(long)]
    pub peer: Vec<String>,
    /// A peer given on the command line: its TAXII API root URL.
    #[arg(long, requires = "peer")]
    pub url: Option<String>,
    /// Remote collection ids (repeatable; none: every one the credentials may use).
    #[arg(long)]
    pub collection: Vec<String>,
    /// Pull from the peer (the default when neither --pull nor --push is given).
    #[arg(long)]
    pub pull: bool,
    /// Push to the peer what the policy lets leave.
    #[arg(long)]
    pub push: bool,
    /// The peer is inside the sharing agreement: AMBER may be pushed to it.
    #[arg(long)]
    pub agreement: bool,
    /// Local collection pulled objects go to (default: peer-NAME, made when missing).
    #[arg(long)]
    pub into: Option<String>,
    /// TLP for pulled objects without a marking, when the collection is made.
    #[arg(long)]
    pub tlp: Option<String>,
    /// The environment variable holding the peer's Bearer token (kept out of argv).
    #[arg(long)]
    pub token_env: Option<String>,
    /// Basic authentication user; the password from --password-env.
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub password_env: Option<String>,
    /// Objects per page and per pushed envelope.
    #[arg(long)]
    pub page: Option<usize>,
    /// Keep going: run again every this many seconds.
    #[arg(long)]
    pub every: Option<u64>,
    /// Print each pull's and push's saved state (cursor, counts, last run and error) as JSON
    /// lines, and do nothing else.
    #[arg(long, conflicts_with_all = ["url", "every"])]
    pub status: bool,
}

fn peers(args: &SyncArgs) -> Result<Vec<Peer>> {
    if let Some(url) = &args.url {
        let [name] = args.peer.as_slice() else { bail!("--url takes exactly one --peer NAME") };
        let config = PeerConfig {
            name: name.clone(),
            url: url.clone(),
            collections: args.collection.clone(),
            into: args.into.clone(),
            tlp: args.tlp.clone(),
            pull: Some(args.pull || !args.push),
            push: Some(args.push),
            agreement: Some(args.agreement),
            token_env: args.token_env.clone(),
            user: args.user.clone(),
            password_env: args.password_env.clone(),
            page: args.page,
            ..Default::default()
        };
        return Ok(vec![config.to_peer()?]);
    }
    let Some(path) = &args.config else { bail!("give --config FILE (its [[peers]]) or --peer NAME --url URL") };
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    #[derive(serde::Deserialize)]
    struct OnlyPeers {
        #[serde(default)]
        peers: Vec<PeerConfig>,
    }
    // The rest of the file is `dossier serve`'s, checked when it starts.
    let file: OnlyPeers = toml::from_str::<toml::Table>(&text)
        .with_context(|| format!("configuration file {}", path.display()))
        .and_then(|t| {
            let peers = t.get("peers").cloned().unwrap_or(toml::Value::Array(Vec::new()));
            let mut only = toml::Table::new();
            only.insert("peers".into(), peers);
            toml::Value::Table(only).try_into::<OnlyPeers>().with_context(|| format!("[[peers]] in {}", path.display()))
        })?;
    let mut out = Vec::new();
    for p in &file.peers {
        if args.peer.is_empty() || args.peer.iter().any(|n| n.eq_ignore_ascii_case(&p.name)) {
            out.push(p.to_peer()?);
        }
    }
    for n in &args.peer {
        if !file.peers.iter().any(|p| p.name.eq_ignore_ascii_case(n)) {
            bail!("no peer {n:?} in {}", path.display());
        }
    }
    if out.is_empty() {
        bail!("{} has no [[peers]]", path.display());
    }
    Ok(out)
}

/// The runtime the sync and mirror commands run on.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("starting the runtime")
}

/// Runs the peers once (or every `--every` seconds), printing one JSON line per pull or push.
pub fn run(data: &Path, args: SyncArgs) -> Result<()> {
    if args.status {
        let store = crate::open(data)?;
        for s in store.sync_states()? {
            outln!("{}", serde_json::to_string(&s)?)?;
        }
        return Ok(());
    }
    let peers = peers(&args)?;
    let store: Arc<dyn dossier_server::Store> = crate::open(data)?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        loop {
            let mut failed = Vec::new();
            for peer in &peers {
                match dossier_server::sync::run(&store, peer).await {
                    Ok(reports) => {
                        for r in reports {
                            // The audit log keeps what each run moved (never credentials).
                            let params = format!(
                                "peer={} collection={} direction={} skipped={}",
                                r.peer, r.collection, r.direction, r.skipped
                            );
                            crate::audit_cli(store.as_ref(), None, "sync", params, r.objects)?;
                            outln!("{}", serde_json::to_string(&r)?)?;
                        }
                    }
                    Err(e) => {
                        eprintln!("peer {}: {e}", peer.name);
                        failed.push(peer.name.clone());
                    }
                }
            }
            match args.every {
                Some(s) => tokio::time::sleep(Duration::from_secs(s.max(1))).await,
                None if failed.is_empty() => return Ok(()),
                None => bail!("sync failed for {}; the next run resumes from the saved cursors", failed.join(", ")),
            }
        }
    })
}

#[derive(Args)]
pub struct MirrorArgs {
    /// The ISAC's server: its address, discovery URL or API root.
    #[arg(long = "from")]
    pub from: String,
    /// The member's API token (or set DOSSIER_MIRROR_TOKEN, which keeps it out of the
    /// process list).
    #[arg(long, env = "DOSSIER_MIRROR_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The name this mirror reports its freshness under [default: this host's name].
    #[arg(long)]
    pub name: Option<String>,
    /// Keep the mirror fresh: run again every this many seconds.
    #[arg(long)]
    pub every: Option<u64>,
    /// Objects per page.
    #[arg(long, default_value_t = 1000)]
    pub page: usize,
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mirror".into())
}

/// `dossier mirror`: keeps the data directory a replica of what the member may see.
pub fn mirror(data: &Path, args: MirrorArgs) -> Result<()> {
    let m = dossier_server::sync::Mirror {
        url: args.from.clone(),
        auth: Auth::Bearer(args.token.trim().to_owned()),
        name: args.name.clone().unwrap_or_else(host_name),
        page: args.page.clamp(1, 10_000),
        retries: 5,
    };
    let store: Arc<dyn dossier_server::Store> = crate::open(data)?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        loop {
            match dossier_server::sync::mirror(&store, &m).await {
                Ok(run) => {
                    let params = format!("from={} fetched={} removed={}", m.url, run.fetched, run.removed);
                    crate::audit_cli(store.as_ref(), None, "mirror", params, run.pulled)?;
                    outln!("{}", serde_json::to_string(&run)?)?
                }
                Err(e) if args.every.is_some() => eprintln!("mirror: {e}; trying again at the next run"),
                Err(e) => bail!("mirror: {e}; the next run resumes from the saved cursors"),
            }
            match args.every {
                Some(s) => tokio::time::sleep(Duration::from_secs(s.max(1))).await,
                None => return Ok(()),
            }
        }
    })
}
