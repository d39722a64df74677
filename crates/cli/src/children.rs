//! Child `mixagent` processes (the workers of `collect`, the runs of `compare`), run as a pool
//! of jobs: each one's standard output and error go through a pipe into its log file, and the
//! parent keeps the child's `error:` message, so a failure is reported with its cause even when
//! the log could not be written (a full disk).

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Commands run one after another under one label and log (a run, then its eval).
pub struct Job {
    /// Names the job in progress lines and errors.
    pub label: String,
    /// Its log file (the first command truncates it).
    pub log: PathBuf,
    /// `mixagent` argument lists.
    pub commands: Vec<Vec<OsString>>,
}

/// A running child `mixagent`.
struct LoggedChild {
    child: std::process::Child,
    log: PathBuf,
    /// Copies the child's output to the log; returns its last `error:` message.
    reader: Option<JoinHandle<Option<String>>>,
}

/// Starts this binary with `args`, its output appended to `log` (or replacing it).
fn spawn_logged<S: AsRef<OsStr>>(
    args: &[S],
    log: &Path,
    append: bool,
) -> anyhow::Result<LoggedChild> {
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
    fn try_wait(&mut self) -> anyhow::Result<Option<Result<(), String>>> {
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

/// What `run_jobs` reports while it runs.
pub enum Progress<'a> {
    /// A poll of the running jobs.
    Poll,
    /// A job finished (`done` of `total`, `secs` after the pool started).
    Done {
        /// The job's label.
        label: &'a str,
        /// Jobs finished so far, failed ones included.
        done: usize,
        /// All jobs.
        total: usize,
        /// Seconds since the pool started.
        secs: f64,
    },
}

/// Runs `jobs`, `workers` at a time (starts 300 ms apart, so that workers of one collection
/// lock different trajectories first); each job's commands one after another. Every job runs
/// even when another fails; the failures, each with the child's own message, are listed at the
/// end. `progress` hears of every poll (twice a second) and every finished job.
pub fn run_jobs(
    jobs: Vec<Job>,
    workers: usize,
    mut progress: impl FnMut(Progress<'_>),
) -> anyhow::Result<()> {
    let started = Instant::now();
    let total = jobs.len();
    let mut queue = jobs.into_iter();
    let mut running: Vec<(Job, usize, LoggedChild)> = Vec::new();
    let mut done = 0usize;
    let mut failed = Vec::new();
    loop {
        while running.len() < workers {
            let Some(job) = queue.next() else { break };
            let child = spawn(&job, 0)?;
            running.push((job, 0, child));
            if running.len() < workers {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        progress(Progress::Poll);
        let mut still = Vec::new();
        for (job, step, mut child) in running {
            match child.try_wait()? {
                None => still.push((job, step, child)),
                Some(Ok(())) if step + 1 < job.commands.len() => {
                    let next = spawn(&job, step + 1)?;
                    still.push((job, step + 1, next));
                }
                Some(Ok(())) => {
                    done += 1;
                    let secs = started.elapsed().as_secs_f64();
                    progress(Progress::Done { label: &job.label, done, total, secs });
                }
                Some(Err(why)) => {
                    done += 1;
                    failed.push(format!("{}: {why}", job.label));
                }
            }
        }
        running = still;
    }
    if !failed.is_empty() {
        bail!("{} job(s) failed:\n  {}", failed.len(), failed.join("\n  "));
    }
    Ok(())
}

/// Starts command `step` of `job`, appending to its log (the first command truncates it).
fn spawn(job: &Job, step: usize) -> anyhow::Result<LoggedChild> {
    self::spawn_logged(&job.commands[step], &job.log, step > 0)
        .with_context(|| format!("cannot start {}", job.label))
}
