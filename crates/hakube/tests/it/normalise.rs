//! Normalises what etcdctl printed so that two clusters that behave alike print alike.
//!
//! Only what may legitimately differ between two correct clusters is rewritten:
//! - where a cluster lives: its loopback block and its temp dir;
//! - IDs the server picks at random: member, lease and cluster IDs become stable labels
//!   (`<member m1>`, `<lease a>`, `<cluster>`) so that *which* member or lease is meant is
//!   still compared; the member that happened to answer (`header.member_id`) becomes `<member>`;
//! - Raft bookkeeping: term, index, applied index, and which member leads;
//! - sizes, hashes, the server version string, durations and remaining lease TTLs;
//! - order that is not part of the contract: rows of tables and lists sorted by random IDs or
//!   by completion time, and how watch events are batched into responses;
//! - the client's own log lines on stderr keep only their level, message and error.
//!
//! Revisions, keys, values, counts, versions, exit codes, error messages and learner flags are
//! compared exactly: they are the behaviour under test.

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::etcdctl::Output;
use crate::table::Table;

/// The kinds of server-chosen IDs that are replaced by labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Member,
    Lease,
    Cluster,
}

/// An etcdctl output after normalisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalised {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Rewrites one cluster's outputs; see the module docs for what is rewritten and why.
#[derive(Clone, Debug, Default)]
pub struct Normaliser {
    replacements: Vec<(String, String)>,
    ids: Vec<(IdKind, u64, String)>,
}

impl Normaliser {
    /// Replaces every occurrence of `from` (an address prefix, a directory) by `to`.
    pub fn replace(&mut self, from: impl Into<String>, to: impl Into<String>) {
        self.replacements.push((from.into(), to.into()));
    }

    /// Names a server-chosen ID; `label` is what it reads as afterwards.
    pub fn name_id(&mut self, kind: IdKind, id: u64, label: impl Into<String>) {
        self.ids.push((kind, id, label.into()));
    }

    /// Normalises the output of `etcdctl <args>`. `args` are the command's words as the script
    /// wrote them, which decide command-specific rules (such as sorting `member list`).
    pub fn output(&self, args: &[String], out: &Output) -> Normalised {
        let command = Command::of(args);
        let mut stdout = self.stdout(&command, &self.replaced(&out.stdout));
        let mut stderr = self.stderr(&self.replaced(&out.stderr));
        match (command.words.as_slice(), command.format) {
            // `member list` prints members ordered by their random IDs.
            (["member", "list", ..], Format::Simple) => stdout = sorted(&stdout, 0),
            // Lease IDs come out in map order, after a `found N leases` line.
            (["lease", "list", ..], Format::Simple) => stdout = sorted(&stdout, 1),
            // Health results print in the order the probes finished.
            (["endpoint", "health", ..], Format::Simple) => stderr = sorted(&stderr, 0),
            _ => {}
        }
        Normalised {
            code: out.code,
            stdout,
            stderr,
        }
    }

    fn replaced(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (from, to) in &self.replacements {
            text = text.replace(from.as_str(), to);
        }
        text
    }

    fn label(&self, kind: IdKind, id: u64) -> Option<&str> {
        self.ids
            .iter()
            .find(|(k, i, _)| *k == kind && *i == id)
            .map(|(_, _, label)| label.as_str())
    }

    /// Looks up an ID printed in hex, as etcdctl's text output prints them.
    fn hex_label(&self, kind: IdKind, token: &str) -> Option<&str> {
        let id = u64::from_str_radix(token, 16).ok()?;
        self.label(kind, id)
    }

    fn hex_or_keep(&self, kind: IdKind, token: &str) -> String {
        self.hex_label(kind, token).unwrap_or(token).to_string()
    }

    fn stdout(&self, command: &Command, text: &str) -> String {
        if command.words.first() == Some(&"watch") && command.format == Format::Json {
            return self.watch_json(text);
        }
        let mut out = String::new();
        let mut table = String::new();
        for line in text.lines() {
            if line.starts_with('+') || line.starts_with('|') {
                table.push_str(line);
                table.push('\n');
                continue;
            }
            out.push_str(&self.table(&std::mem::take(&mut table)));
            out.push_str(&self.line(command, line));
            out.push('\n');
        }
        out.push_str(&self.table(&table));
        out
    }

    fn table(&self, text: &str) -> String {
        if text.is_empty() {
            return String::new();
        }
        let Some(mut table) = Table::parse(text) else {
            return text.to_string();
        };
        for (c, name) in table.header.clone().iter().enumerate() {
            for row in &mut table.rows {
                let cell = &mut row[c];
                if let Some(placeholder) = column_placeholder(name) {
                    *cell = placeholder.to_string();
                } else if name == "ID" {
                    *cell = self.hex_or_keep(IdKind::Member, cell);
                }
            }
        }
        // Rows come in the order of random member IDs or of completion times.
        table.rows.sort();
        table.render()
    }

    fn line(&self, command: &Command, line: &str) -> String {
        if (line.starts_with('{') || line.starts_with('['))
            && let Ok(mut value) = serde_json::from_str::<Value>(line)
        {
            self.json(command, &mut value);
            return value.to_string();
        }
        if let Some(fields) = self.fields_line(line) {
            return fields;
        }
        if let Some(cluster) = line.strip_prefix("ETCD_INITIAL_CLUSTER=\"") {
            // Printed in the order of the members' random IDs.
            let mut entries: Vec<&str> = cluster.trim_end_matches('"').split(',').collect();
            entries.sort();
            return format!("ETCD_INITIAL_CLUSTER=\"{}\"", entries.join(","));
        }
        if let Some((head, keys)) = line.split_once("attached keys([") {
            // A lease's keys come in the order of a hash map.
            let (keys, tail) = keys.split_once("])").unwrap_or((keys, ""));
            let mut keys: Vec<&str> = keys.split(' ').collect();
            keys.sort();
            return format!(
                "{}attached keys([{}]){tail}",
                self.words(head),
                keys.join(" ")
            );
        }
        match command.words.as_slice() {
            ["member", "list", ..] if command.format == Format::Simple => {
                if let Some((id, rest)) = line.split_once(", ") {
                    return format!("{}, {rest}", self.hex_or_keep(IdKind::Member, id));
                }
            }
            ["lease", "list", ..] if !line.contains(' ') => {
                return self.hex_or_keep(IdKind::Lease, line);
            }
            _ => {}
        }
        self.words(line)
    }

    /// Rewrites IDs that follow `Member`, `lease` or `cluster`, durations and remaining TTLs.
    fn words(&self, line: &str) -> String {
        let mut out: Vec<String> = Vec::new();
        let (mut before_previous, mut previous) = ("", "");
        for word in line.split(' ') {
            let kind = match previous {
                "Member" => Some(IdKind::Member),
                "lease" => Some(IdKind::Lease),
                "cluster" => Some(IdKind::Cluster),
                _ => None,
            };
            if kind.is_some() && word.is_empty() {
                // Padding before an ID printed with `%16x`; its width depends on the ID.
                continue;
            }
            let mut rewritten = match kind {
                Some(kind) => self.hex_or_keep(kind, word),
                None if previous == "=" && before_previous == "took" => "<duration>".to_string(),
                None => word.to_string(),
            };
            if let Some(start) = rewritten.find("remaining(") {
                let end = rewritten[start..]
                    .find(')')
                    .map_or(rewritten.len(), |e| start + e);
                rewritten.replace_range(start + "remaining(".len()..end, "<ttl>");
            }
            // Runs of spaces (IDs printed with `%16x` are padded) leave empty words behind,
            // which do not count as the previous word.
            if !word.is_empty() {
                (before_previous, previous) = (previous, word);
            }
            out.push(rewritten);
        }
        out.join(" ")
    }

    /// Rewrites a line of `-w fields` output, such as `"MemberID" : 4575456418104135513`.
    fn fields_line(&self, line: &str) -> Option<String> {
        let (key, value) = line.split_once(" : ")?;
        let name = key.strip_prefix('"')?.strip_suffix('"')?;
        let replacement = match name {
            "ClusterID" => self.decimal_or_keep(IdKind::Cluster, value),
            "Lease" | "ID" => self.decimal_or_keep(IdKind::Lease, value),
            "MemberID" => "<member>".to_string(),
            "RaftTerm" => "<term>".to_string(),
            _ => return None,
        };
        Some(format!("{key} : {replacement}"))
    }

    fn decimal_or_keep(&self, kind: IdKind, value: &str) -> String {
        value
            .parse()
            .ok()
            .and_then(|id| self.label(kind, id))
            .unwrap_or(value)
            .to_string()
    }

    fn json(&self, command: &Command, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if let Some(placeholder) = json_placeholder(key, value) {
                        *value = Value::String(placeholder.to_string());
                        continue;
                    }
                    let kind = match key.as_str() {
                        "cluster_id" => Some(IdKind::Cluster),
                        "lease" => Some(IdKind::Lease),
                        // `ID` names a lease in lease commands and a member elsewhere.
                        "ID" | "id" if command.words.first() == Some(&"lease") => {
                            Some(IdKind::Lease)
                        }
                        "ID" | "id" => Some(IdKind::Member),
                        _ => None,
                    };
                    match (kind, value.as_u64()) {
                        (Some(kind), Some(id)) => {
                            if let Some(label) = self.label(kind, id) {
                                *value = Value::String(label.to_string());
                            }
                        }
                        _ => self.json(command, value),
                    }
                    // Members are listed in the order of their random IDs, and a lease's keys
                    // (`lease timetolive --keys`) in the order of a hash map.
                    if let ("members" | "keys", Value::Array(items)) = (key.as_str(), value) {
                        items.sort_by_key(|item| item.to_string());
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(command, v)),
            _ => {}
        }
    }

    /// `watch -w json` prints one object per watch response; how a server batches events into
    /// responses, and the header revision at send time, are not part of the contract, so each
    /// event is printed on its own line.
    fn watch_json(&self, text: &str) -> String {
        let args = ["watch".to_string()];
        let command = Command::of(&args);
        let mut out = String::new();
        for line in text.lines() {
            let Ok(response) = serde_json::from_str::<Value>(line) else {
                out.push_str(&self.line(&command, line));
                out.push('\n');
                continue;
            };
            for event in response["Events"].as_array().into_iter().flatten() {
                let mut event = event.clone();
                self.json(&command, &mut event);
                out.push_str(&format!("event {event}\n"));
            }
            let compacted = response["CompactRevision"].as_i64().unwrap_or(0);
            if response["Canceled"].as_bool() == Some(true) || compacted != 0 {
                out.push_str(&format!(
                    "canceled={} compact_revision={compacted}\n",
                    response["Canceled"]
                ));
            }
        }
        out
    }

    fn stderr(&self, text: &str) -> String {
        let mut lines: Vec<String> = Vec::new();
        for line in text.lines() {
            let line = match serde_json::from_str::<Value>(line) {
                // The client's structured log: its timestamps, callers, targets and attempt
                // counts vary from run to run; the message and the error are what matter.
                Ok(log) if log["level"].is_string() && log["msg"].is_string() => {
                    let mut summary = format!(
                        "{}: {}",
                        log["level"].as_str().unwrap_or_default(),
                        log["msg"].as_str().unwrap_or_default()
                    );
                    if let Some(error) = log["error"].as_str() {
                        summary.push_str(": ");
                        summary.push_str(error);
                    }
                    summary
                }
                _ => self.words(line),
            };
            // A retried call logs once per attempt, and the number of attempts is timing.
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

fn column_placeholder(name: &str) -> Option<&'static str> {
    Some(match name {
        "VERSION" => "<version>",
        "DB SIZE" | "TOTAL SIZE" => "<size>",
        "IS LEADER" => "<leader>",
        "RAFT TERM" => "<term>",
        "RAFT INDEX" | "RAFT APPLIED INDEX" => "<index>",
        "TOOK" => "<duration>",
        "HASH" => "<hash>",
        _ => return None,
    })
}

fn json_placeholder(key: &str, value: &Value) -> Option<&'static str> {
    Some(match key {
        "raft_term" | "raftTerm" => "<term>",
        "raftIndex" | "raftAppliedIndex" => "<index>",
        "dbSize" | "dbSizeInUse" | "totalSize" => "<size>",
        "member_id" => "<member>",
        "leader" => "<leader>",
        "hash" => "<hash>",
        // A key's `version` is a number and is compared; the server's version is a string.
        "version" if value.is_string() => "<version>",
        // The remaining TTL of `lease timetolive`; the granted one is `granted-ttl`.
        "ttl" => "<ttl>",
        _ => return None,
    })
}

/// Sorts the lines after the first `keep` ones.
fn sorted(text: &str, keep: usize) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let keep = keep.min(lines.len());
    lines[keep..].sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Simple,
    Json,
    Table,
    Fields,
}

/// The command words (`member list`) and the output format of an etcdctl invocation.
struct Command<'a> {
    words: Vec<&'a str>,
    format: Format,
}

impl<'a> Command<'a> {
    fn of(args: &'a [String]) -> Command<'a> {
        let words = args
            .iter()
            .take_while(|a| !a.starts_with('-'))
            .map(String::as_str)
            .collect();
        let mut format = Format::Simple;
        for (i, arg) in args.iter().enumerate() {
            let value = match arg.as_str() {
                "-w" | "--write-out" => args.get(i + 1).map(String::as_str),
                other => other.strip_prefix("--write-out="),
            };
            format = match value {
                Some("json") => Format::Json,
                Some("table") => Format::Table,
                Some("fields") => Format::Fields,
                Some(_) => Format::Simple,
                None => continue,
            };
        }
        Command { words, format }
    }
}
