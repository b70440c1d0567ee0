//! A `warden run` child process: started from a command its caller completes (secrets,
//! database, log), watched, and stopped as an operator (SIGTERM) or a crash (SIGKILL) would.

use std::ffi::OsString;
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

    /// `exe run --config config` for a developer tool's measurement (`bench`, `simulate`): a
    /// throwaway SQLite database and throwaway secrets beside the config, and `extra` arguments
    /// (e.g. `--policy FILE`). It measures; it keeps nothing.
    pub fn throwaway(exe: &Path, config: &Path, extra: &[OsString]) -> Result<Self, HarnessError> {
        let database = config.with_file_name("warden.db");
        let mut command = Self::command(exe, config);
        command
            .args(extra)
            .env(
                "WARDEN_DATABASE_URL",
                format!("sqlite://{}", database.display()),
            )
            .env("WARDEN_APPEAL_SECRET", "throwaway-appeal-secret")
            .env("WARDEN_RECIPIENT_KEY", "throwaway-recipient-key");
        Self::spawn(command)
    }

    /// An error when it has exited: a tool waiting for its output would wait in vain.
    pub fn check_alive(&mut self) -> Result<(), HarnessError> {
        match self.exited()? {
            Some(status) => Err(HarnessError::Exited(status)),
            None => Ok(()),
        }
    }

    /// Stops it with SIGTERM (waiting up to a minute) and says its peak resident memory, as
    /// `"{kib} kB"` or `"unknown"`.
    pub fn stop_with_peak_memory(mut self) -> Result<String, HarnessError> {
        let peak = match self.peak_kib() {
            0 => "unknown".to_owned(),
            kib => format!("{kib} kB"),
        };
        self.terminate(Duration::from_secs(60))?;
        Ok(peak)
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
