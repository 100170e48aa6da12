//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary directory (as the
//! unprivileged `postgres` user when the tests run as root, since PostgreSQL refuses to run
//! as root), `pg_ctl start` on a free port of 127.0.0.1 with its socket in that directory,
//! trust authentication for the one local user `dossier`, and `pg_ctl stop` plus removal
//! of the directory when dropped. One cluster per test binary is enough: each test takes a
//! database of its own ([`Cluster::database`]).
//!
//! PostgreSQL's programs are looked up in `DOSSIER_PG_BIN`, else the newest
//! `/usr/lib/postgresql/*/bin` (Debian's `postgresql` package), else `PATH`. Without them a
//! test panics saying how to install them, unless `DOSSIER_SKIP_POSTGRES=1` is set (then
//! [`Cluster::start`] returns `None` and the PostgreSQL half of a test is skipped, said on
//! stderr).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // test plumbing: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A running throwaway cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    next: AtomicU32,
}

fn pg_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DOSSIER_PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let on_path = Command::new("initdb").arg("--version").output().is_ok_and(|o| o.status.success());
    on_path.then(PathBuf::new)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The role of [`Cluster::certificate_only_database`]: the name its client certificate
/// carries (`CN`), which `cert` authentication maps to the role.
pub const CERTIFICATE_ROLE: &str = "dossier_cert";

impl Cluster {
    /// Starts a cluster, or `None` when PostgreSQL is not installed and
    /// `DOSSIER_SKIP_POSTGRES=1` says to skip.
    ///
    /// # Panics
    /// When PostgreSQL is missing (and not to be skipped) or does not start.
    pub fn start() -> Option<Cluster> {
        Self::start_with(false)
    }

    /// [`Cluster::start`], with `fsync` as asked: tests run without it (nothing they do
    /// needs to survive a power cut), benchmarks with it, as a real server runs.
    ///
    /// # Panics
    /// As [`Cluster::start`].
    pub fn start_with(fsync: bool) -> Option<Cluster> {
        Self::start_full(fsync, false)
    }

    /// A cluster that also speaks TLS, with a certificate for the host name `localhost`
    /// (not for 127.0.0.1) signed by a throwaway CA written to [`Cluster::ca_file`] (made
    /// with the `openssl` program, which Debian's `ca-certificates` depends on).
    ///
    /// # Panics
    /// As [`Cluster::start`], and when `openssl` fails.
    pub fn start_tls() -> Option<Cluster> {
        Self::start_full(false, true)
    }

    /// The CA certificate of a [`Cluster::start_tls`] cluster (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Writes a CA (`ca.pem`, `ca.key`), a server certificate for `localhost` signed by it
    /// (`server.crt`, `server.key`) and a client certificate for the role
    /// [`CERTIFICATE_ROLE`] (`client.crt`, `client.key`, mode 0600) into `dir`.
    ///
    /// # Panics
    /// When `openssl` fails.
    pub fn make_certificates(dir: &Path) {
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=dossier test CA", "-keyout", "ca.key"];
        ca.extend(ec);
        ca.extend(["-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE"]);
        ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        run(&ca);
        // A key and a certificate for `name`, signed by the CA, with `extensions`.
        let signed = |file: &str, name: &str, extensions: &str| {
            let (key, csr, ext, crt) =
                (format!("{file}.key"), format!("{file}.csr"), format!("{file}.ext"), format!("{file}.crt"));
            let subject = format!("/CN={name}");
            let mut req = vec!["req", "-subj", &subject, "-keyout", &key, "-out", &csr];
            req.extend(ec);
            run(&req);
            std::fs::write(dir.join(&ext), extensions).unwrap();
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &crt,
            ]);
        };
        signed(
            "server",
            "localhost",
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        );
        signed(
            "client",
            CERTIFICATE_ROLE,
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
        );
        // PostgreSQL (and libpq's rule, which the store follows) refuses a key others may read.
        use std::os::unix::fs::PermissionsExt;
        for key in ["server.key", "client.key"] {
            std::fs::set_permissions(dir.join(key), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// A new database owned by [`CERTIFICATE_ROLE`], a role that may connect to a
    /// [`Cluster::start_tls`] cluster only over TLS with a client certificate the cluster's
    /// CA signed (`cert` in `pg_hba.conf`); returns its URL (no TLS parameters).
    ///
    /// # Panics
    /// When the role, the database or the configuration cannot be made.
    pub fn certificate_only_database(&self) -> String {
        let admin = self.database();
        let role = CERTIFICATE_ROLE;
        let exists = self.psql(&admin, &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"));
        if exists.trim() == "0" {
            self.psql(&admin, &format!("CREATE ROLE {role} LOGIN"));
            let hba = self.dir.join("data").join("pg_hba.conf");
            let rules = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(
                &hba,
                format!("hostssl all {role} 127.0.0.1/32 cert\nhost all {role} 127.0.0.1/32 reject\n{rules}"),
            )
            .unwrap();
            let reload = self.command("pg_ctl").arg("-D").arg(self.dir.join("data")).arg("reload").output().unwrap();
            assert!(reload.status.success(), "pg_ctl reload: {}", String::from_utf8_lossy(&reload.stderr));
            // The server reads the new rules when it gets to the signal: wait for them.
            let refused = || {
                !self
                    .command("psql")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        role,
                        "-d",
                        "postgres",
                        "-c",
                        "SELECT 1",
                    ])
                    .env("PGSSLMODE", "disable")
                    .output()
                    .unwrap()
                    .status
                    .success()
            };
            let mut tries = 0;
            while !refused() {
                tries += 1;
                assert!(tries < 100, "the server did not take the certificate-only rule");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let name = format!("c{}", self.next.fetch_add(1, Ordering::Relaxed));
        self.psql(&admin, &format!("CREATE DATABASE {name} OWNER {role}"));
        format!("postgres://{role}@127.0.0.1:{}/{name}", self.port)
    }

    /// The client certificate and key of a [`Cluster::start_tls`] cluster (PEM).
    pub fn client_files(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("client.crt"), self.dir.join("client.key"))
    }

    fn start_full(fsync: bool, tls: bool) -> Option<Cluster> {
        let Some(bin) = pg_bin() else {
            if std::env::var("DOSSIER_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
                eprintln!("PostgreSQL is not installed: DOSSIER_SKIP_POSTGRES=1, skipping its half of this test");
                return None;
            }
            panic!(
                "PostgreSQL's programs (initdb, pg_ctl) not found: `apt-get install postgresql` (.ci/run does), \
                 set DOSSIER_PG_BIN to their directory, or DOSSIER_SKIP_POSTGRES=1 to skip"
            );
        };
        let base = std::env::temp_dir().join(format!(
            "dossier-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&base).unwrap();
        if tls {
            Self::make_certificates(&base);
        }
        let as_postgres = is_root();
        let cluster = Cluster { dir: base, bin, port: free_port(), as_postgres, next: AtomicU32::new(0) };
        if as_postgres {
            // The cluster's directory belongs to the unprivileged user that runs it.
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&cluster.dir).status().unwrap();
            assert!(ok.success(), "chown of {} to postgres failed", cluster.dir.display());
        }
        let data = cluster.dir.join("data");
        let init = cluster
            .command("initdb")
            .args(["-A", "trust", "-U", "dossier", "-E", "UTF8", "--locale", "C", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(init.status.success(), "initdb failed: {}", String::from_utf8_lossy(&init.stderr));
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=200",
            cluster.port,
            cluster.dir.display(),
            if fsync { "on" } else { "off" }
        );
        if tls {
            let d = cluster.dir.display();
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key -c ssl_ca_file={d}/ca.pem"
            ));
        }
        let log = cluster.dir.join("server.log");
        let start = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            start.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&start.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        cluster.stop_when_gone(std::process::id());
        Some(cluster)
    }

    /// A cluster held in a `static` is never dropped: a watcher stops it and removes its
    /// directory as soon as process `pid` (the test binary) has ended, however it ended.
    fn stop_when_gone(&self, pid: u32) {
        let data = self.dir.join("data");
        let stop = self.command("pg_ctl");
        let mut line: Vec<String> = vec![format!("{:?}", stop.get_program())];
        line.extend(stop.get_args().map(|a| format!("{a:?}")));
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {} -D {:?} -m immediate -w stop >/dev/null 2>&1; rm -rf {:?}",
            line.join(" "),
            data,
            self.dir
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }

    fn command(&self, program: &str) -> Command {
        let path = if self.bin.as_os_str().is_empty() { PathBuf::from(program) } else { self.bin.join(program) };
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// A new, empty database of its own; returns its URL.
    pub fn database(&self) -> String {
        let name = format!("t{}", self.next.fetch_add(1, Ordering::Relaxed));
        let out = self
            .command("createdb")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "dossier", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "createdb failed: {}", String::from_utf8_lossy(&out.stderr));
        format!("postgres://dossier@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL through `psql` on database `url`'s database; returns stdout (unaligned,
    /// tuples only).
    pub fn psql(&self, url: &str, sql: &str) -> String {
        let db = url.rsplit('/').next().unwrap();
        let out = self
            .command("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "dossier", "-At", "-d", db, "-c", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
