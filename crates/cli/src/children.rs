//! Child `mixagent` processes (the workers of `collect`, the runs of `compare`): each one's
//! standard output and error go through a pipe into its log file, and the parent keeps the
//! child's `error:` message, so a failure is reported with its cause even when the log could
//! not be written (a full disk).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;

use anyhow::Context;

/// A running child `mixagent`.
pub struct LoggedChild {
    child: std::process::Child,
    log: PathBuf,
    /// Copies the child's output to the log; returns its last `error:` message.
    reader: Option<JoinHandle<Option<String>>>,
}

/// Starts this binary with `args`, its output appended to `log` (or replacing it).
pub fn spawn<S: AsRef<OsStr>>(args: &[S], log: &Path, append: bool) -> anyhow::Result<LoggedChild> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(log)
        .with_context(|| log.display().to_string())?;
    let (pipe, writer) = std::io::pipe().context("cannot create a pipe for a child process")?;
    let exe = std::env::current_exe().context("cannot find the mixagent binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(args).stdout(writer.try_clone()?).stderr(writer);
    let child = cmd.spawn().context("cannot start a mixagent process")?;
    // The command holds the pipe's write ends: dropped, the reader sees the end when the
    // child exits.
    drop(cmd);
    let reader = std::thread::spawn(move || {
        let mut message: Option<String> = None;
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            // A log that cannot be written (a full disk) must not stop the child.
            let _ = writeln!(file, "{line}");
            if let Some(m) = line.strip_prefix("error: ") {
                message = Some(m.to_string());
            } else if let (Some(m), true) = (&mut message, line.starts_with("  ")) {
                // The error's hint lines ("\n  the disk is full: ...").
                m.push('\n');
                m.push_str(&line);
            }
        }
        message
    });
    Ok(LoggedChild { child, log: log.to_path_buf(), reader: Some(reader) })
}

impl LoggedChild {
    /// `None` while it runs; then `Ok` when it succeeded, or what went wrong: its exit status,
    /// its own error message and its log.
    pub fn try_wait(&mut self) -> anyhow::Result<Option<Result<(), String>>> {
        let Some(status) = self.child.try_wait()? else { return Ok(None) };
        let message = self.reader.take().and_then(|r| r.join().ok()).flatten();
        if status.success() {
            return Ok(Some(Ok(())));
        }
        let log = self.log.display();
        Ok(Some(Err(match message {
            Some(m) => format!("{status} (log: {log}): {m}"),
            None => format!("{status}; see {log}"),
        })))
    }
}
