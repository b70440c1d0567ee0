//! A `warden run` child process: started from a command its caller completes (secrets,
//! database, log), watched, and stopped as an operator (SIGTERM) or a crash (SIGKILL) would.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::HarnessError;

/// A running `warden run`, stopped when dropped (SIGTERM, then SIGKILL after ten seconds).
pub struct WardenRun {
    child: Option<Child>,
}

impl WardenRun {
    /// `exe run --config config`, its stdout discarded; the caller adds the environment,
    /// arguments and stderr, then [`WardenRun::spawn`]s it.
    pub fn command(exe: &Path, config: &Path) -> Command {
        let mut command = Command::new(exe);
        command
            .arg("run")
            .arg("--config")
            .arg(config)
            .stdout(Stdio::null());
        command
    }

    pub fn spawn(mut command: Command) -> Result<Self, HarnessError> {
        let child = command
            .spawn()
            .map_err(HarnessError::io("cannot start warden run"))?;
        Ok(Self { child: Some(child) })
    }

    /// How it exited, if it has (a stopped or killed process counts as exited).
    pub fn exited(&mut self) -> Result<Option<ExitStatus>, HarnessError> {
        match self.child.as_mut() {
            Some(child) => child
                .try_wait()
                .map_err(HarnessError::io("cannot wait for warden run")),
            None => Ok(Some(ExitStatus::default())),
        }
    }

    /// Resident memory now, in KiB (0 when unknown).
    pub fn resident_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// Peak resident memory so far, in KiB (0 when unknown).
    pub fn peak_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let Some(child) = &self.child else { return 0 };
        std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|kib| kib.trim().trim_end_matches(" kB").parse().ok())
            .unwrap_or(0)
    }

    /// SIGKILL: no drain, no commit, no checkpoint, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `patience` for the process to exit, as an operator's stop.
    /// Returns its exit status, or `None` when it had to be killed.
    pub fn terminate(&mut self, patience: Duration) -> Result<Option<ExitStatus>, HarnessError> {
        match self.child.take() {
            Some(mut child) => terminate(&mut child, patience),
            None => Ok(None),
        }
    }
}

impl Drop for WardenRun {
    fn drop(&mut self) {
        let _ = self.terminate(Duration::from_secs(10));
    }
}

/// SIGTERM, a wait of at most `patience`, then SIGKILL (the status is then `None`).
pub(super) fn terminate(
    child: &mut Child,
    patience: Duration,
) -> Result<Option<ExitStatus>, HarnessError> {
    // A process that has already exited makes `kill` fail; the wait below then reaps it.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let start = Instant::now();
    while start.elapsed() < patience {
        if let Some(status) = child
            .try_wait()
            .map_err(HarnessError::io("cannot wait for a child"))?
        {
            return Ok(Some(status));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}
