//! A private PostgreSQL cluster of a test's own, made as `scripts/pg.sh` makes one, that the test may
//! stop and start again (same port, same data) to see what a service does while Postgres is away. The
//! shared test cluster (`$DATABASE_URL`) must never be restarted: other tests run against it at once.
//!
//! Postgres refuses to run as root, so the cluster lives in a directory the `postgres` user owns and
//! its commands run as that user (`runuser -u postgres --`) when the test runs as root. The binaries
//! are `$PG_BIN`'s, or `/usr/lib/postgresql/15/bin`'s. Trust authentication on loopback, superuser
//! `postgres`; the cluster is stopped and its directory removed when dropped.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::{free_port, TestResult};

/// A private Postgres cluster, stopped and removed when dropped.
pub struct PgCluster {
    /// The cluster's own directory: `data/`, the server's log and its socket.
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    running: bool,
}

/// Whether this process runs as root (then Postgres's commands run as `postgres`).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

impl PgCluster {
    /// Makes a cluster in a new temporary directory (`initdb`) and starts it on a free loopback port.
    pub async fn init() -> TestResult<Self> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("compute-escrow-pg-{}-{}-{n}", std::process::id(), crate::now_ms()));
        std::fs::create_dir(&dir)?;
        if is_root() {
            run(Command::new("chown").arg("postgres:").arg(&dir)).await?;
        }
        let bin = PathBuf::from(std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()));
        let mut cluster = Self { dir, bin, port: free_port(), running: false };
        let data = cluster.data();
        let mut initdb = cluster.pg("initdb");
        run(initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])).await?;
        cluster.start().await?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command running Postgres's binary `name`, as `postgres` when this process is root.
    fn pg(&self, name: &str) -> Command {
        let binary = self.bin.join(name);
        if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(binary);
            cmd
        } else {
            Command::new(binary)
        }
    }

    /// Its port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether it is running (as far as this handle started and stopped it).
    #[must_use]
    pub fn running(&self) -> bool {
        self.running
    }

    /// The URL of database `db` in it.
    #[must_use]
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The server's log so far (for a failing test's message).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Starts the cluster (on its port, with its data) and waits until it accepts connections.
    pub async fn start(&mut self) -> TestResult {
        let options = format!("-h 127.0.0.1 -p {} -k {} -c max_connections=200", self.port, self.dir.display());
        let (data, log) = (self.data(), self.dir.join("server.log"));
        let started = run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(options)
            .arg("start"))
        .await;
        if let Err(e) = started {
            return Err(format!("{e}; server log:\n{}", self.log()).into());
        }
        self.running = true;
        Ok(())
    }

    /// Stops the cluster (`pg_ctl stop -m fast`: sessions are ended, open transactions rolled back) and
    /// waits until it has.
    pub async fn stop(&mut self) -> TestResult {
        run(self.pg("pg_ctl").arg("-D").arg(self.data()).args(["-m", "fast", "-w", "-t", "60", "stop"])).await?;
        self.running = false;
        Ok(())
    }

    /// Stops the cluster and starts it again.
    pub async fn restart(&mut self) -> TestResult {
        self.stop().await?;
        self.start().await
    }

    /// Creates database `name` (`createdb`).
    pub async fn create_database(&self, name: &str) -> TestResult {
        let port = self.port.to_string();
        run(self.pg("createdb").args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name])).await
    }
}

/// Runs `cmd` to its end; an error with its output if it fails.
async fn run(cmd: &mut Command) -> TestResult {
    let out = cmd.stdin(Stdio::null()).output().await?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .into())
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let data: &Path = &self.data();
            let mut cmd = if is_root() {
                let mut cmd = std::process::Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
                cmd
            } else {
                std::process::Command::new(self.bin.join("pg_ctl"))
            };
            let _ = cmd
                .arg("-D")
                .arg(data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
