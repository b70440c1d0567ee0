//! A local tansu broker: found, started on an address with SQLite storage in a folder, killed
//! (as a crash) or stopped, and restarted on the same storage.
//!
//! SQLite storage, not tansu 0.6's in-memory engine: a fetch from an offset inside a stored
//! batch skips the rest of that batch there, so a consumer resuming from a committed offset
//! would silently miss records; and SQLite survives a broker restart.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::HarnessError;

/// How long a starting broker may take to listen.
const START_PATIENCE: Duration = Duration::from_secs(30);
/// How long a stopping broker may take to exit after SIGTERM before it is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(10);

/// The tansu binary: `$TANSU`, else `tansu` on the `PATH`, else in `$CARGO_HOME/bin` or
/// `~/.cargo/bin`.
pub fn tansu_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .collect::<Vec<_>>()
    });
    let cargo_bins = [
        std::env::var_os("CARGO_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")),
    ]
    .into_iter()
    .flatten()
    .map(|cargo| cargo.join("bin/tansu"));
    std::env::var_os("TANSU")
        .map(PathBuf::from)
        .into_iter()
        .chain(on_path)
        .chain(cargo_bins)
        .find(|candidate| candidate.is_file())
}

/// Whether something accepts TCP connections at `address` (`host:port`).
pub fn listening(address: &str) -> bool {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
}

/// A running tansu broker, stopped when dropped.
pub struct Tansu {
    binary: PathBuf,
    address: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl Tansu {
    /// Starts `binary` listening at `address`, with its storage and log (`tansu.log`,
    /// appended to, so a restarted broker keeps its predecessor's) in `dir`, and waits until
    /// it listens.
    pub fn start(binary: &Path, address: &str, dir: &Path) -> Result<Self, HarnessError> {
        let mut broker = Self {
            binary: binary.to_owned(),
            address: address.to_owned(),
            dir: dir.to_owned(),
            child: None,
        };
        broker.launch()?;
        Ok(broker)
    }

    fn launch(&mut self) -> Result<(), HarnessError> {
        let url = format!("tcp://{}", self.address);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(HarnessError::io("cannot open the broker's log"))?;
        let stderr = log
            .try_clone()
            .map_err(HarnessError::io("cannot open the broker's log"))?;
        let child = Command::new(&self.binary)
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            // tansu reads the path relative to its working directory.
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(&self.dir)
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(HarnessError::io(format!(
                "cannot start {}",
                self.binary.display()
            )))?;
        self.child = Some(child);
        let start = Instant::now();
        while !listening(&self.address) {
            if start.elapsed() > START_PATIENCE {
                self.kill();
                return Err(HarnessError::TimedOut {
                    what: format!("tansu listening at {}", self.address),
                    after: START_PATIENCE,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("tansu.log")
    }

    /// The broker's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, a bounded wait, then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = super::process::terminate(&mut child, STOP_PATIENCE);
        }
    }

    /// Kills the broker and starts it again on the same address and storage.
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        self.kill();
        self.launch()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
