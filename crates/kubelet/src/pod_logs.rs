//! Container logs: the writer that copies a process's stdout and stderr into its log file with
//! an RFC 3339 time (nanoseconds) before every line, and the reader that serves such a file to
//! `/containerLogs` with `timestamps`, `sinceSeconds`/`sinceTime`, `tailLines`, `limitBytes`
//! and `follow` (which ends when the container's instance has ended and its output is written).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::logs::{CHUNK, FOLLOW_POLL, LogOptions, open_at};

/// A line longer than this is cut into lines of this length, as container runtimes split
/// long lines.
const MAX_LINE: usize = 16 * 1024;

/// The time a line was written, as it prefixes the line.
fn stamp(time: Timestamp) -> String {
    format!("{time:.9}")
}

/// Moves the complete lines of `pending` (plus `chunk`) into stamped output; with `flush`, a
/// final partial line too (it gets a newline). Too long partial lines are cut.
pub(crate) fn stamp_lines(
    pending: &mut Vec<u8>,
    chunk: &[u8],
    stamp: &str,
    flush: bool,
) -> Vec<u8> {
    pending.extend_from_slice(chunk);
    let mut out = Vec::new();
    let mut start = 0;
    let push = |line: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(stamp.as_bytes());
        out.push(b' ');
        out.extend_from_slice(line);
        out.push(b'\n');
    };
    while let Some(newline) = pending[start..].iter().position(|b| *b == b'\n') {
        let end = start + newline;
        push(&pending[start..end], &mut out);
        start = end + 1;
    }
    while pending.len() - start >= MAX_LINE {
        push(&pending[start..start + MAX_LINE], &mut out);
        start += MAX_LINE;
    }
    if flush && start < pending.len() {
        push(&pending[start..], &mut out);
        start = pending.len();
    }
    pending.drain(..start);
    out
}

/// Copies one output stream, line by line, to the writer.
async fn copy_stream(mut stream: impl AsyncRead + Unpin, tx: mpsc::Sender<Vec<u8>>) {
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        let out = stamp_lines(&mut pending, &buf[..n], &stamp(Timestamp::now()), n == 0);
        if !out.is_empty() && tx.send(out).await.is_err() {
            return;
        }
        if n == 0 {
            return;
        }
    }
}

/// Starts copying a process's stdout and stderr to `file`. The receiver turns true once both
/// streams have ended and everything is written.
pub(crate) fn start_writer(
    stdout: impl AsyncRead + Unpin + Send + 'static,
    stderr: impl AsyncRead + Unpin + Send + 'static,
    mut file: tokio::fs::File,
    path: PathBuf,
) -> watch::Receiver<bool> {
    let (done_tx, done_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(copy_stream(stdout, tx.clone()));
    tokio::spawn(copy_stream(stderr, tx));
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            // Whatever else is waiting goes in the same write.
            let mut batch = first;
            while let Ok(more) = rx.try_recv() {
                batch.extend_from_slice(&more);
            }
            if let Err(e) = file.write_all(&batch).await {
                tracing::warn!(target: "kubelet", path = %path.display(), error = %e, "writing a container log failed");
                break;
            }
        }
        let _ = file.flush().await;
        let _ = done_tx.send(true);
    });
    done_rx
}

/// One stored line as a request wants it: without its time unless `timestamps`, and nothing if
/// it is older than `since`. A line without a time (not written by this kubelet) is kept whole.
pub(crate) fn render_line(
    line: &[u8],
    timestamps: bool,
    since: Option<Timestamp>,
) -> Option<&[u8]> {
    let space = line.iter().position(|b| *b == b' ');
    let time = space
        .and_then(|i| std::str::from_utf8(&line[..i]).ok())
        .and_then(|t| t.parse::<Timestamp>().ok());
    let (Some(space), Some(time)) = (space, time) else {
        return Some(line);
    };
    if since.is_some_and(|since| time < since) {
        return None;
    }
    Some(if timestamps { line } else { &line[space + 1..] })
}

/// Sends a container's log file to `tx` as `options` say. `done` turns true when the instance
/// writing the file has ended; following stops there (or when the receiver goes away).
pub(crate) async fn pump(
    path: PathBuf,
    options: LogOptions,
    done: watch::Receiver<bool>,
    tx: mpsc::Sender<Bytes>,
) {
    if let Err(e) = pump_inner(&path, &options, done, &tx).await {
        tracing::debug!(target: "kubelet", path = %path.display(), error = %e, "reading a container log failed");
    }
}

async fn pump_inner(
    path: &Path,
    options: &LogOptions,
    mut done: watch::Receiver<bool>,
    tx: &mpsc::Sender<Bytes>,
) -> std::io::Result<()> {
    let since = match (options.since_seconds, options.since_time) {
        (Some(secs), _) => Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(secs as i64))
            .ok(),
        (None, time) => time,
    };
    let mut remaining = options.limit_bytes.unwrap_or(u64::MAX);
    let mut file = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    let mut saw_done = false;
    loop {
        if file.is_none() {
            let (p, tail) = (path.to_owned(), options.tail_lines);
            let opened = tokio::task::spawn_blocking(move || open_at(&p, tail))
                .await
                .map_err(std::io::Error::other)??;
            file = opened.map(|(f, _)| tokio::fs::File::from_std(f));
        }
        let n = match file.as_mut() {
            Some(f) => f.read(&mut buf).await?,
            None => 0,
        };
        let at_end = n == 0 && (!options.follow || saw_done);
        pending.extend_from_slice(&buf[..n]);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(newline) = pending[start..].iter().position(|b| *b == b'\n') {
            let line = &pending[start..start + newline + 1];
            start += newline + 1;
            if let Some(rendered) = render_line(line, options.timestamps, since) {
                out.extend_from_slice(rendered);
            }
        }
        if at_end && start < pending.len() {
            if let Some(rendered) = render_line(&pending[start..], options.timestamps, since) {
                out.extend_from_slice(rendered);
            }
            start = pending.len();
        }
        pending.drain(..start);
        if !out.is_empty() {
            let cut = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(out.len());
            out.truncate(cut);
            remaining -= cut as u64;
            if tx.send(Bytes::from(out)).await.is_err() || remaining == 0 {
                return Ok(());
            }
        }
        if n > 0 {
            continue;
        }
        if at_end {
            return Ok(());
        }
        // A writer gone without saying so has ended too.
        if *done.borrow_and_update() || done.has_changed().is_err() {
            // One more read picks up whatever was written before the end.
            saw_done = true;
            continue;
        }
        tokio::select! {
            _ = tx.closed() => return Ok(()),
            _ = done.changed() => {}
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests;
