//! Facts about the machine a Node reports (OS, kernel, IDs, CPUs, memory): read once from `/etc`
//! and `/proc` at start, so everything that builds objects from them stays pure.

use std::path::Path;

/// What the host tells about itself. Missing files give fallbacks rather than errors: a Node with
/// an unknown kernel version is still a working Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os_image: String,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel_version: String,
    /// `/etc/machine-id` (empty if absent). Every node of one machine shares it, so the Node's
    /// machineID is derived from it and the node name (see [`crate::node`]).
    pub machine_id: String,
    /// `/proc/sys/kernel/random/boot_id`: the same for every node on the machine, which is true.
    pub boot_id: String,
    /// Logical CPUs this process may use.
    pub cpus: usize,
    /// `MemTotal` from `/proc/meminfo`, in KiB.
    pub memory_kib: u64,
}

impl HostFacts {
    /// Reads the facts from the running system.
    pub fn read() -> Self {
        let os_image = read_text("/etc/os-release")
            .as_deref()
            .and_then(pretty_name)
            .unwrap_or_else(|| "Linux".to_string());
        let memory_kib = read_text("/proc/meminfo")
            .as_deref()
            .and_then(mem_total_kib)
            .unwrap_or(0);
        let cpus = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        HostFacts {
            os_image,
            kernel_version: read_line("/proc/sys/kernel/osrelease")
                .unwrap_or_else(|| "unknown".to_string()),
            machine_id: read_line("/etc/machine-id").unwrap_or_default(),
            boot_id: read_line("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
            cpus,
            memory_kib,
        }
    }
}

fn read_text(path: &str) -> Option<String> {
    match std::fs::read_to_string(Path::new(path)) {
        Ok(text) => Some(text),
        Err(e) => {
            tracing::warn!(target: "kubelet", path, error = %e, "cannot read a host fact");
            None
        }
    }
}

fn read_line(path: &str) -> Option<String> {
    read_text(path)
        .map(|text| text.trim().to_string())
        .filter(|line| !line.is_empty())
}

/// The `PRETTY_NAME` of an os-release file, unquoted (os-release values follow shell quoting).
pub(crate) fn pretty_name(os_release: &str) -> Option<String> {
    let value = os_release
        .lines()
        .find_map(|line| line.trim().strip_prefix("PRETTY_NAME="))?;
    let value = value.trim();
    let unquoted = match value.as_bytes().first() {
        Some(b'"') => unescape(value.strip_prefix('"')?.strip_suffix('"')?),
        Some(b'\'') => value.strip_prefix('\'')?.strip_suffix('\'')?.to_string(),
        _ => value.to_string(),
    };
    Some(unquoted).filter(|name| !name.is_empty())
}

/// Double-quoted os-release values escape `"`, `\`, `` ` `` and `$` with a backslash.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// `MemTotal` of a /proc/meminfo text, in KiB (the kernel writes it as `MemTotal: <n> kB`).
pub(crate) fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Kubernetes' (Go's) name for an architecture, from Rust's `std::env::consts::ARCH`.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_names() {
        let cases = [
            (
                "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n",
                Some("Ubuntu 24.04.1 LTS"),
            ),
            (
                "PRETTY_NAME='Alpine Linux v3.20'\n",
                Some("Alpine Linux v3.20"),
            ),
            ("PRETTY_NAME=Debian\n", Some("Debian")),
            ("PRETTY_NAME=\"Say \\\"hi\\\"\"\n", Some("Say \"hi\"")),
            ("PRETTY_NAME=\"\"\n", None),
            ("NAME=Fedora\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(pretty_name(text).as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn mem_total() {
        let cases = [
            (
                "MemTotal:       16318884 kB\nMemFree: 1 kB\n",
                Some(16318884),
            ),
            ("MemFree: 1 kB\n", None),
            ("MemTotal: lots\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(mem_total_kib(text), want, "{text:?}");
        }
    }

    #[test]
    fn architectures() {
        for (rust, go) in [
            ("x86_64", "amd64"),
            ("aarch64", "arm64"),
            ("s390x", "s390x"),
            ("riscv64", "riscv64"),
        ] {
            assert_eq!(go_arch(rust), go);
        }
    }

    #[test]
    fn reads_this_host() {
        let facts = HostFacts::read();
        assert!(facts.cpus >= 1);
        assert!(!facts.os_image.is_empty());
    }
}
