//! Container processes as the OS sees them: `/proc` facts (parent, start time, command line),
//! process trees, signals (sent with the `kill` program: the crate has no unsafe code), and the
//! records in the state directory that let a restarted kubelet stop the containers an earlier
//! run left behind, without ever signalling a process that merely reuses a recorded pid.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `/proc/<pid>/stat` tells about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub ppid: u32,
    /// Clock ticks after boot at which it started: with the pid, a process's identity.
    pub start_time: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may hold spaces
/// and parentheses itself, so the fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (3), ppid (4), ... starttime (22).
    Some(ProcStat {
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

pub(crate) fn read_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn read_cmdline(pid: u32) -> Option<Vec<u8>> {
    std::fs::read(format!("/proc/{pid}/cmdline")).ok()
}

/// The descendants of `root` in a table of (pid, parent pid), children before grandchildren.
pub(crate) fn descendants_in(table: &[(u32, u32)], root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for &(pid, ppid) in table {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        for &child in children.get(&parent).into_iter().flatten() {
            if child != root && !out.contains(&child) {
                out.push(child);
                queue.push(child);
            }
        }
    }
    out
}

/// `root` and every process below it now.
pub(crate) fn process_tree(root: u32) -> Vec<u32> {
    let mut table = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = read_stat(pid) {
                table.push((pid, stat.ppid));
            }
        }
    }
    let mut tree = vec![root];
    tree.extend(descendants_in(&table, root));
    tree
}

/// Sends `signal` (`TERM`, `KILL`) to the processes. Processes already gone are no error.
pub(crate) async fn signal(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let status = tokio::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    if let Err(e) = status {
        tracing::warn!(target: "kubelet", ?pids, signal, error = %e, "cannot run kill");
    }
}

/// The records of the container processes this node runs: one file per process, named by its
/// pid, holding its start time and command line.
#[derive(Debug, Clone)]
pub(crate) struct PidRecords {
    dir: PathBuf,
}

/// A record's text: the start time on the first line, then the raw command line.
fn record_bytes(stat: ProcStat, cmdline: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{}\n", stat.start_time).into_bytes();
    bytes.extend_from_slice(cmdline);
    bytes
}

/// Parses a record: (start time, command line).
fn parse_record(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let start_time = std::str::from_utf8(&bytes[..newline]).ok()?.parse().ok()?;
    Some((start_time, &bytes[newline + 1..]))
}

impl PidRecords {
    pub(crate) fn new(dir: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(PidRecords { dir })
    }

    /// Records a process just started. Failing to is logged: the process still runs, and only a
    /// crash of the node would leave it behind.
    pub(crate) fn record(&self, pid: u32) {
        let (Some(stat), Some(cmdline)) = (read_stat(pid), read_cmdline(pid)) else {
            return;
        };
        if let Err(e) = std::fs::write(self.dir.join(pid.to_string()), record_bytes(stat, &cmdline))
        {
            tracing::warn!(target: "kubelet", pid, error = %e, "cannot record a container process");
        }
    }

    pub(crate) fn forget(&self, pid: u32) {
        let _ = std::fs::remove_file(self.dir.join(pid.to_string()));
    }

    /// Kills (SIGKILL) the recorded processes of an earlier run that still run, with their
    /// descendants, and forgets every record. Returns how many were still running.
    pub(crate) fn kill_leftovers(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut killed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let pid = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(pid) = pid
                && self.is_recorded_process(&path, pid)
            {
                let tree = process_tree(pid);
                let status = std::process::Command::new("kill")
                    .arg("-KILL")
                    .args(tree.iter().map(u32::to_string))
                    .stderr(std::process::Stdio::null())
                    .status();
                tracing::info!(target: "kubelet", pid, processes = tree.len(), ok = status.is_ok_and(|s| s.success()), "killed a container process left by an earlier run");
                killed += 1;
            }
            let _ = std::fs::remove_file(&path);
        }
        killed
    }

    /// Whether `pid` is still the process its record describes: same start time and command
    /// line (a reused pid has another start time).
    fn is_recorded_process(&self, record: &Path, pid: u32) -> bool {
        let Ok(bytes) = std::fs::read(record) else {
            return false;
        };
        let Some((start_time, cmdline)) = parse_record(&bytes) else {
            return false;
        };
        read_stat(pid).is_some_and(|s| s.start_time == start_time)
            && read_cmdline(pid).is_some_and(|c| c == cmdline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        let cases = [
            (
                "1234 (sleep) S 1200 1234 1200 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10",
                Some(ProcStat {
                    ppid: 1200,
                    start_time: 987654,
                }),
            ),
            (
                "77 (a (b) c) R 5 77 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0",
                Some(ProcStat {
                    ppid: 5,
                    start_time: 42,
                }),
            ),
            ("77 (short) R 5", None),
            ("garbage", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_stat(text), want, "{text}");
        }
    }

    #[test]
    fn trees() {
        let table = [(2, 1), (3, 2), (4, 2), (5, 3), (6, 1), (7, 6)];
        assert_eq!(descendants_in(&table, 2), vec![3, 4, 5]);
        assert_eq!(descendants_in(&table, 6), vec![7]);
        assert_eq!(descendants_in(&table, 5), Vec::<u32>::new());
    }

    #[test]
    fn records() {
        let stat = ProcStat {
            ppid: 1,
            start_time: 99,
        };
        let bytes = record_bytes(stat, b"sleep\x0010\x00");
        assert_eq!(parse_record(&bytes), Some((99, &b"sleep\x0010\x00"[..])));
        assert_eq!(parse_record(b"nonsense"), None);
    }

    #[test]
    fn this_process_is_readable() {
        let me = std::process::id();
        assert!(read_stat(me).is_some());
        assert!(process_tree(me).contains(&me));
    }

    #[tokio::test]
    async fn leftovers_are_killed_and_reused_pids_spared() {
        let dir = tempfile::tempdir().unwrap();
        let records = PidRecords::new(dir.path().join("pids")).unwrap();
        let mut child = tokio::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        records.record(pid);
        // A record of this very process with a wrong start time: a reused pid.
        let me = std::process::id();
        std::fs::write(dir.path().join("pids").join(me.to_string()), b"1\nnot me").unwrap();
        assert_eq!(records.kill_leftovers(), 1);
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(!status.success());
        assert_eq!(
            std::fs::read_dir(dir.path().join("pids")).unwrap().count(),
            0
        );
    }
}
