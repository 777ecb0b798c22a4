//! Processes and temporary directories that never outlive the test process, however it ends:
//! a finished run, a failed assertion, a panic, Ctrl-C or SIGKILL.
//!
//! - Children are started through [`command`] (`setpriv --pdeathsig KILL`), so the kernel kills
//!   them when their parent goes away. The parent the kernel watches is the *thread* that forked,
//!   and libtest runs each test on a thread of its own, so [`spawn`] forks on one keeper thread
//!   that lives as long as the process. A backend held in a `static` for the whole test binary
//!   (never dropped) therefore still dies with it.
//! - [`TempDir`]s live under one directory per test process, `$TMPDIR/opsmcp-run-<pid>-<n>`. A
//!   janitor (`sh`, reading a pipe only this process holds) removes it when the pipe closes,
//!   which the kernel does when the process ends for any reason.
//!
//! `.ci/run` checks after the tests that neither a process nor a directory was left behind.

use std::{
    ffi::OsStr,
    io::Read,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// A command for `program` that the kernel kills (SIGKILL) when the test process ends. Start
/// it with [`spawn`] or [`run`]: only those fork on the thread that lives as long as the process.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "--"]).arg(program);
    cmd
}

type Job = (Command, mpsc::SyncSender<std::io::Result<Child>>);

/// Start `cmd` (made by [`command`]) on the keeper thread.
pub fn spawn(cmd: Command, name: &str) -> Result<Process> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("opsmcp-process-keeper".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The senders live in a static: this thread never gets here, and must not
                // (its children would be killed with it).
                loop {
                    std::thread::park();
                }
            })
            .expect("the process keeper thread starts");
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::sync_channel(1);
    let described = format!("{cmd:?}");
    keeper
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply))
        .context("the process keeper thread is gone")?;
    let child = answer
        .recv()
        .context("the process keeper thread is gone")?
        .with_context(|| format!("starting {name}: {described}"))?;
    Ok(Process {
        child,
        name: name.to_owned(),
    })
}

/// A child process that is killed (by PID) and reaped when dropped.
pub struct Process {
    pub child: Child,
    pub name: String,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM and wait up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        signal(self.pid(), "TERM")?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} did not exit within {timeout:?} of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `kill -SIG pid`.
pub fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()?;
    if !status.success() {
        bail!("kill -{sig} {pid} failed");
    }
    Ok(())
}

/// Run a command (made by [`command`]) to completion with a timeout, returning (success,
/// stdout, stderr).
pub fn run(mut cmd: Command, timeout: Duration) -> Result<(bool, String, String)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let described = format!("{cmd:?}");
    let mut process = spawn(cmd, &described)?;
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = reader(Box::new(process.child.stdout.take().unwrap()));
    let err = reader(Box::new(process.child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = process.child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            drop(process);
            bail!("{described} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok((status.success(), out.join().unwrap(), err.join().unwrap()))
}

/// This process's directory for [`TempDir`]s, created with its janitor on first use.
fn run_root() -> Result<&'static Path> {
    static ROOT: OnceLock<(PathBuf, Mutex<ChildStdin>)> = OnceLock::new();
    // One creator at a time: two tests starting together once computed the same path (the
    // clock's resolution) and the loser of the race removed the winner's directory.
    static CREATING: Mutex<()> = Mutex::new(());
    if let Some((root, _)) = ROOT.get() {
        return Ok(root);
    }
    let _creating = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((root, _)) = ROOT.get() {
        return Ok(root);
    }
    let root = std::env::temp_dir().join(format!(
        "opsmcp-run-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    ));
    std::fs::create_dir_all(&root)?;
    // The janitor waits for end of file on its stdin: the write end is ours alone (std opens
    // pipes close-on-exec), so EOF comes exactly when this process ends. It retries a little,
    // as the killed backends may still be writing their last files.
    let mut janitor = Command::new("sh")
        .args([
            "-c",
            r#"cat >/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do rm -rf -- "$1" 2>/dev/null; [ -e "$1" ] || exit 0; sleep 0.2; done; exit 1"#,
            "opsmcp-janitor",
        ])
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the temporary-directory janitor (sh)")?;
    let pipe = janitor.stdin.take().unwrap();
    let _ = ROOT.set((root, Mutex::new(pipe)));
    Ok(&ROOT.get().unwrap().0)
}

/// A fresh directory that lives as long as the test process (its run directory's janitor
/// removes it), for files a server under test keeps for its whole life (audit logs).
pub fn scratch(prefix: &str) -> Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = run_root()?.join(format!(
        "{prefix}-kept-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&path)?;
    Ok(path)
}

/// A directory under this process's run directory, removed when dropped (and with the run
/// directory when the process ends, if it never is).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = run_root()?.join(format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_outlives_the_thread_that_asked_for_it() {
        let process = std::thread::spawn(|| {
            let mut cmd = command("sleep");
            cmd.arg("30");
            spawn(cmd, "sleep").unwrap()
        })
        .join()
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let mut process = process;
        assert!(
            process.child.try_wait().unwrap().is_none(),
            "the child died with the test thread that started it"
        );
    }

    #[test]
    fn temp_dirs_live_under_the_run_directory() {
        let dir = TempDir::new("probe").unwrap();
        let root = dir.path().parent().unwrap().to_path_buf();
        assert!(
            root.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("opsmcp-run-{}-", std::process::id()))
        );
        drop(dir);
        assert!(root.exists());
    }
}
