//! Container logs from a role's log file: the query options of `/containerLogs`, the start of
//! the last N lines, and a pump that sends the file (and, when following, what is appended to it)
//! to the HTTP response until the client goes away.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

/// How much is read (and sent) at once.
pub(crate) const CHUNK: usize = 64 * 1024;
/// How often a followed file is checked for new data. Polling keeps this free of inotify and
/// costs one stat per follower per tick.
pub(crate) const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// The options of a log request, from its query (the kubelet's names). Containers' log files
/// carry a time on every line, which `timestamps`, `sinceSeconds` and `sinceTime` use; the role
/// log files of the mirror pods carry none, so there these change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Only the last N lines (then, with `follow`, what comes after).
    pub tail_lines: Option<u64>,
    /// Stop after this many bytes in all.
    pub limit_bytes: Option<u64>,
    /// Keep sending what is appended.
    pub follow: bool,
    pub timestamps: bool,
    pub since_seconds: Option<u64>,
    pub since_time: Option<jiff::Timestamp>,
    /// The log of the container's previous instance.
    pub previous: bool,
}

impl LogOptions {
    /// Parses a query string. The error is the message of a 400 answer.
    pub fn from_query(query: &str) -> Result<Self, String> {
        let mut options = LogOptions::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "tailLines" => options.tail_lines = Some(number(key, value, 0)?),
                "limitBytes" => options.limit_bytes = Some(number(key, value, 1)?),
                "sinceSeconds" => options.since_seconds = Some(number(key, value, 1)?),
                "follow" => options.follow = flag(value),
                "timestamps" => options.timestamps = flag(value),
                "previous" => options.previous = flag(value),
                "sinceTime" => {
                    let text = decode(value);
                    let time = text
                        .parse()
                        .map_err(|_| format!("sinceTime: invalid RFC3339 time {text:?}"))?;
                    options.since_time = Some(time);
                }
                // stream, container...: nothing to do (one stream, the container is in the path).
                _ => {}
            }
        }
        Ok(options)
    }
}

fn number(key: &str, value: &str, min: u64) -> Result<u64, String> {
    match value.parse::<i64>() {
        Ok(n) if n >= 0 && n as u64 >= min => Ok(n as u64),
        Ok(_) if min == 0 => Err(format!("{key}: must be greater than or equal to 0")),
        Ok(_) => Err(format!("{key}: must be greater than 0")),
        Err(_) => Err(format!("{key}: invalid integer {value:?}")),
    }
}

/// Undoes a query value's percent-encoding (a time's `:` and `+` arrive encoded).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex =
            || u8::from_str_radix(std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?, 16).ok();
        match bytes[i] {
            b'%' if hex().is_some() => {
                out.extend(hex());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Kubernetes reads a query flag as true unless it says `0`, `f` or `false` (any case).
fn flag(value: &str) -> bool {
    !(value == "0" || value.eq_ignore_ascii_case("f") || value.eq_ignore_ascii_case("false"))
}

/// Where the last `lines` lines of a file start. A final line without its newline counts as a
/// line; fewer lines than asked means the whole file.
pub fn tail_offset(file: &mut (impl Read + Seek), lines: u64) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if lines == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut buf = vec![0u8; CHUNK];
    let mut seen = 0u64;
    let mut last_byte = true;
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        for (i, &byte) in chunk.iter().enumerate().rev() {
            // The newline that ends the file closes the last line; it separates nothing.
            let is_last = std::mem::take(&mut last_byte);
            if byte == b'\n' && !is_last {
                seen += 1;
                if seen == lines {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(0)
}

/// Opens a log file at the start of what is to be sent. `None` if it does not exist (yet).
pub(crate) fn open_at(
    path: &Path,
    tail_lines: Option<u64>,
) -> std::io::Result<Option<(std::fs::File, u64)>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let offset = match tail_lines {
        Some(lines) => tail_offset(&mut file, lines)?,
        None => 0,
    };
    file.seek(SeekFrom::Start(offset))?;
    Ok(Some((file, offset)))
}

/// Sends the log to `tx` as the options say, then returns (at the end of the file, at the byte
/// limit, or, when following, once the receiver is gone). A missing file is an empty log; when
/// following, it is waited for. A file replaced (rotated) or truncated is followed from its start.
pub(crate) async fn pump(path: PathBuf, options: LogOptions, tx: mpsc::Sender<Bytes>) {
    if let Err(e) = pump_inner(&path, &options, &tx).await {
        tracing::debug!(target: "kubelet", path = %path.display(), error = %e, "reading a log file failed");
    }
}

async fn pump_inner(
    path: &Path,
    options: &LogOptions,
    tx: &mpsc::Sender<Bytes>,
) -> std::io::Result<()> {
    let mut remaining = options.limit_bytes.unwrap_or(u64::MAX);
    let first = {
        let path = path.to_owned();
        let tail = options.tail_lines;
        tokio::task::spawn_blocking(move || open_at(&path, tail))
            .await
            .map_err(std::io::Error::other)??
    };
    let mut identity = None;
    let mut offset = 0;
    let mut file = None;
    if let Some((opened, start)) = first {
        identity = Some(opened.metadata()?.ino());
        offset = start;
        file = Some(tokio::fs::File::from_std(opened));
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        if remaining == 0 {
            return Ok(());
        }
        if let Some(f) = file.as_mut() {
            let want = CHUNK.min(usize::try_from(remaining).unwrap_or(CHUNK));
            let n = f.read(&mut buf[..want]).await?;
            if n > 0 {
                remaining -= n as u64;
                offset += n as u64;
                if tx.send(Bytes::copy_from_slice(&buf[..n])).await.is_err() {
                    return Ok(());
                }
                continue;
            }
        }
        if !options.follow {
            return Ok(());
        }
        tokio::select! {
            _ = tx.closed() => return Ok(()),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        let Ok(meta) = tokio::fs::metadata(path).await else {
            // Gone for the moment (mid-rotation): keep what is open.
            continue;
        };
        if identity != Some(meta.ino()) || meta.len() < offset {
            let mut reopened = tokio::fs::File::open(path).await?;
            reopened.seek(SeekFrom::Start(0)).await?;
            identity = Some(meta.ino());
            offset = 0;
            file = Some(reopened);
        }
    }
}

#[cfg(test)]
mod tests;
