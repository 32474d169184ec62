//! Acceptance 2: one script of etcdctl commands runs against three real etcd members and three
//! members under test, and every command must print the same, once IDs, timestamps, sizes and
//! Raft bookkeeping are normalised (see `normalise.rs` for exactly what is).
//!
//! With `HAKUBE_IT_FLAVOR=etcd` both sides are real etcd, which checks the script and the
//! normalisation themselves. `HAKUBE_IT_TRANSCRIPT=1` (with `--nocapture`) prints what real
//! etcd printed for every step, normalised: the reference an implementation must match.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::cluster::Cluster;
use crate::compare::compare;
use crate::etcdctl::Output;
use crate::flavor::Flavor;
use crate::machine::machine_shared;
use crate::script::{Capture, Ctl, Record, Step, ctl, run};

#[test]
fn etcdctl_prints_the_same_for_hakube_as_for_real_etcd() -> Result<()> {
    let _machine = machine_shared();
    // Both clusters play the script at once; each keeps its own member processes.
    let reference = std::thread::spawn(|| play(Flavor::RealEtcd));
    let subject = play(Flavor::under_test());
    let reference = reference
        .join()
        .map_err(|_| anyhow::anyhow!("the real etcd run panicked"))??;
    let subject = subject?;
    // Against real etcd every step must work, or the script itself is wrong. The subject's
    // harness failures (a member that never starts, say) show up as differences below.
    if let Some(failed) = reference.iter().find(|r| r.harness_error) {
        bail!(
            "against real etcd, the harness failed at `{}`: {}\ntranscript:\n{}",
            failed.step,
            failed.output.stderr,
            transcript(&reference)
        );
    }
    if std::env::var_os("HAKUBE_IT_TRANSCRIPT").is_some() {
        eprintln!("real etcd's transcript:\n{}", transcript(&reference));
    }
    if let Some(report) = compare(&reference, &subject) {
        bail!(
            "{report}\n\nreal etcd's whole transcript:\n{}",
            transcript(&reference)
        );
    }
    Ok(())
}

fn play(flavor: Flavor) -> Result<Vec<Record>> {
    let mut cluster = Cluster::start(flavor, 3)?;
    run(&mut cluster, &script())
}

fn transcript(records: &[Record]) -> String {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "-- {i}: {}\nexit {:?}\n{}{}",
                r.step, r.output.code, r.output.stdout, r.output.stderr
            )
        })
        .collect()
}

/// The stdin of `etcdctl txn`: compares, success ops, failure ops, each ended by a blank line.
fn txn(compares: &[&str], success: &[&str], failure: &[&str]) -> String {
    [compares, success, failure]
        .iter()
        .map(|section| section.iter().map(|l| format!("{l}\n")).collect::<String>() + "\n")
        .collect()
}

fn succeeded(out: &Output) -> bool {
    out.success()
}

fn printed_nothing(out: &Output) -> bool {
    out.success() && out.stdout.is_empty()
}

/// The script. Revisions are deterministic because every step waits for the previous one;
/// comments give the revision each write creates.
fn script() -> Vec<Step> {
    use Step::*;
    let mut s = vec![
        // The cluster's shape.
        Run(ctl("member list -w table")),
        Run(ctl("member list")),
        Run(ctl("endpoint status -w table")),
        Run(ctl("endpoint health -w table")),
        Run(ctl("endpoint health")),
        Run(ctl("alarm list")),
        Run(ctl("alarm list -w json")),
        // Keys: put, get and its options, del.
        Run(ctl("put foo bar")),   // 2
        Run(ctl("put foo2 bar2")), // 3
        Run(ctl("put a 1")),       // 4
        Run(ctl("put foo baz")),   // 5
        Run(ctl("put dir/x 1")),   // 6
        Run(ctl("put dir/y 2")),   // 7
        Run(ctl("get foo")),
        Run(ctl("get foo -w json")),
        Run(ctl("get foo --prefix")),
        Run(ctl("get foo --prefix --keys-only")),
        Run(ctl("get foo --prefix -w json")),
        Run(ctl("get foo --rev=2")),
        Run(ctl("get foo --rev=2 -w json")),
        Run(ctl("get foo --prefix --rev=3 --keys-only")),
        Run(Ctl::args(&["get", "", "--prefix", "--limit=2"])),
        Run(Ctl::args(&[
            "get",
            "",
            "--prefix",
            "--limit=2",
            "-w",
            "json",
        ])),
        Run(Ctl::args(&[
            "get",
            "",
            "--prefix",
            "--keys-only",
            "--sort-by=MODIFY",
            "--order=DESCEND",
        ])),
        Run(ctl("get --from-key dir/y --keys-only")),
        Run(ctl("get dir/ --prefix --print-value-only")),
        Run(ctl("get dir/x dir/y")),
        Run(ctl("get foo -w fields")),
        Run(ctl("get nokey")),
        Run(ctl("get nokey -w json")),
        Run(ctl("get foo --rev=1000")),
        Run(ctl("put --prev-kv foo qux")), // 8
        Run(ctl("del foo2")),              // 9
        Run(ctl("del nokey")),
        Run(ctl("del --prev-kv a")),   // 10
        Run(ctl("del dir/ --prefix")), // 11
        Run(ctl("get foo2 --rev=8 -w json")),
        // Transactions, read from stdin.
        Run(ctl("txn").stdin(txn(
            &[r#"value("foo") = "qux""#],
            &["put foo txn", "put t1 x"],
            &["put foo never"],
        ))), // 12
        Run(ctl("txn").stdin(txn(
            &[r#"value("foo") = "nope""#],
            &["put foo never"],
            &["get foo", "get t1"],
        ))),
        Run(ctl("txn -w json").stdin(txn(
            &[
                r#"version("foo") = "4""#,
                r#"create("t1") > "0""#,
                r#"mod("t1") < "1000""#,
            ],
            &["put t2 y", "del t1"],
            &[],
        ))), // 13
        Run(ctl("txn -w json").stdin(txn(
            &[r#"value("t2") > "z""#],
            &[],
            &["get t --prefix", "put t3 z"],
        ))), // 14
        // Watches from an old revision replay the history above, then the end marker.
        Start {
            name: "history",
            ctl: Ctl::args(&["watch", "", "--prefix", "--rev=2"]),
        },
        Start {
            name: "history-json",
            ctl: Ctl::args(&[
                "watch",
                "",
                "--prefix",
                "--rev=2",
                "--prev-kv",
                "-w",
                "json",
            ]),
        },
        Run(ctl("put watch-end done")), // 15
        Collect {
            name: "history",
            until: "watch-end\ndone\n",
        },
        // The JSON watch prints keys in base64: "d2F0Y2gtZW5k" is "watch-end".
        Collect {
            name: "history-json",
            until: "d2F0Y2gtZW5k",
        },
        // Compaction.
        Run(ctl("compaction 5")),
        Run(ctl("get foo --rev=4")),
        Run(ctl("get foo --rev=5 -w json")),
        Run(ctl("watch foo --rev=2")),
        Run(ctl("compaction 5")),
        Run(ctl("compaction 8 --physical")),
        Run(ctl("get foo --prefix --rev=9 --keys-only")),
        Run(ctl("compaction 1000")),
    ];
    s.extend(leases());
    s.extend(membership());
    s.extend([
        // Snapshot, status, health and alarms once everything above happened.
        Run(ctl("snapshot save {dir}/snap.db").on(&["m1"])),
        Run(ctl("endpoint status -w json")),
        Run(ctl("endpoint status -w table")),
        Run(ctl("endpoint health -w table")),
        Run(ctl("alarm list")),
        Run(Ctl::args(&["get", "", "--prefix", "-w", "json"])),
    ]);
    s
}

fn leases() -> Vec<Step> {
    use Step::*;
    vec![
        // A watch on the lease keys shows puts, expiry and revocation as events.
        Run(ctl("get l --prefix -w json").capture(Capture::NextRevision("leases"))),
        Start {
            name: "leases",
            ctl: ctl("watch l --prefix --rev={rev:leases}"),
        },
        // A short lease: its key vanishes when it expires. 1s is below etcd's minimum TTL for a
        // 1s election timeout, which etcd raises to 2s.
        Run(ctl("lease grant 1").capture(Capture::Lease("short"))),
        Run(ctl("put lb 1 --lease={lease:short}")), // 16
        Until {
            ctl: ctl("get lb"),
            done: printed_nothing,
        }, // 17, the expiry
        Run(ctl("lease timetolive {lease:short}")),
        Run(ctl("get lb -w json")),
        // A long lease with two keys, kept alive once, then revoked.
        Run(ctl("lease grant 100").capture(Capture::Lease("a"))),
        Run(ctl("lease grant 100 -w json").capture(Capture::Lease("b"))),
        Run(ctl("put la 1 --lease={lease:a}")),  // 18
        Run(ctl("put la2 2 --lease={lease:a}")), // 19
        Run(ctl("lease list")),
        Run(ctl("lease timetolive {lease:a}")),
        Run(ctl("lease timetolive {lease:a} --keys")),
        Run(ctl("lease timetolive {lease:a} --keys -w json")),
        Run(ctl("lease timetolive {lease:b} --keys")),
        Run(ctl("lease keep-alive --once {lease:a}")),
        Run(ctl("lease keep-alive --once {lease:a} -w json")),
        Run(ctl("get la -w json")),
        Run(ctl("put lx 1 --lease=1234")),
        Run(ctl("lease timetolive 1234")),
        Run(ctl("lease revoke {lease:a}")), // 20: both keys go in one revision
        Run(ctl("get l --prefix")),
        Run(ctl("lease revoke {lease:a}")),
        Run(ctl("lease timetolive {lease:a}")),
        Run(ctl("lease keep-alive --once {lease:a}")),
        Run(ctl("lease revoke {lease:b}")),
        // Keep-alives hold a short lease past its TTL; without them its key vanishes.
        Run(ctl("lease grant 3").capture(Capture::Lease("kept"))),
        Run(ctl("put lc 1 --lease={lease:kept}")), // 21
        // Its output is one line per renewal, a count that is timing, so it is not recorded.
        Start {
            name: "keep-alive",
            ctl: ctl("lease keep-alive {lease:kept}"),
        },
        Elapse {
            time: Duration::from_secs(5),
        },
        Run(ctl("get lc")),
        Stop { name: "keep-alive" },
        Until {
            ctl: ctl("get lc"),
            done: printed_nothing,
        }, // 22, the expiry
        Run(ctl("put lz end")), // 23
        Collect {
            name: "leases",
            until: "lz\nend\n",
        },
    ]
}

fn membership() -> Vec<Step> {
    use Step::*;
    const WITH_M4: &[&str] = &["m1", "m2", "m3", "m4"];
    vec![
        PlanMember("m4"),
        Run(ctl("member add m4 --learner --peer-urls={peer:m4}").capture(Capture::Member("m4"))),
        Run(ctl("member list -w table")),
        StartMember("m4"),
        // Real etcd refuses to promote a learner that has not caught up yet.
        Until {
            ctl: ctl("member promote {id:m4}"),
            done: succeeded,
        },
        Run(ctl("member list -w table")),
        Run(ctl("member list -w json")),
        Run(ctl("endpoint status -w table").on(WITH_M4)),
        Run(ctl("get foo").on(&["m4"])),
        Run(ctl("member remove {id:m4}")),
        ForgetMember("m4"),
        Run(ctl("member list -w table")),
        Run(ctl("member remove {id:m4}")),
    ]
}
