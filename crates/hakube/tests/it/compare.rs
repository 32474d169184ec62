//! Compares two recorded runs of a script step by step and explains every difference with a
//! line diff, so a CI log says exactly which command printed what.

use crate::normalise::Normalised;
use crate::script::Record;

/// How many differing steps a report spells out; the rest are only counted.
const SHOWN: usize = 20;

/// Returns `None` when both runs printed the same, or a readable report of the differences.
/// `reference` is real etcd; `subject` is the implementation under test.
pub fn compare(reference: &[Record], subject: &[Record]) -> Option<String> {
    let mut report = String::new();
    let mut differing = 0;
    for (i, (want, got)) in reference.iter().zip(subject).enumerate() {
        let Some(explanation) = explain(&want.output, &got.output) else {
            if want.step == got.step {
                continue;
            }
            differing += 1;
            report.push_str(&format!(
                "step {i} is `{}` for one and `{}` for the other\n",
                want.step, got.step
            ));
            continue;
        };
        differing += 1;
        if differing <= SHOWN {
            report.push_str(&format!("\n== step {i}: {}\n{explanation}", want.step));
        }
    }
    if reference.len() != subject.len() {
        differing += 1;
        report.push_str(&format!(
            "\nthe reference recorded {} steps and the subject {}\n",
            reference.len(),
            subject.len()
        ));
    }
    if differing == 0 {
        return None;
    }
    Some(format!(
        "{differing} step(s) differ (`-` is real etcd, `+` is the cluster under test):\n{report}"
    ))
}

fn explain(want: &Normalised, got: &Normalised) -> Option<String> {
    if want == got {
        return None;
    }
    let mut out = String::new();
    if want.code != got.code {
        out.push_str(&format!("exit code: -{:?} +{:?}\n", want.code, got.code));
    }
    for (stream, want, got) in [
        ("stdout", &want.stdout, &got.stdout),
        ("stderr", &want.stderr, &got.stderr),
    ] {
        if want != got {
            out.push_str(&format!("{stream}:\n{}", diff_lines(want, got)));
        }
    }
    Some(out)
}

/// A line diff from the longest common subsequence: ` ` both, `-` only in `a`, `+` only in `b`.
pub fn diff_lines(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // common[i][j] = length of the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i][j] = if a[i] == b[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("   {}\n", a[i]));
            (i, j) = (i + 1, j + 1);
        } else if j == b.len() || (i < a.len() && common[i + 1][j] >= common[i][j + 1]) {
            out.push_str(&format!("  -{}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("  +{}\n", b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(step: &str, code: i32, stdout: &str) -> Record {
        Record {
            step: step.to_string(),
            output: Normalised {
                code: Some(code),
                stdout: stdout.to_string(),
                stderr: String::new(),
            },
            harness_error: false,
        }
    }

    #[test]
    fn equal_runs_have_no_report() {
        let run = vec![record("etcdctl put a 1", 0, "OK\n")];
        assert_eq!(compare(&run, &run.clone()), None);
    }

    #[test]
    fn report_names_the_step_and_diffs_its_lines() {
        let want = vec![
            record("etcdctl put a 1", 0, "OK\n"),
            record("etcdctl get a", 0, "a\n1\n"),
        ];
        let got = vec![
            record("etcdctl put a 1", 0, "OK\n"),
            record("etcdctl get a", 1, "a\n2\n"),
        ];
        let report = compare(&want, &got).unwrap();
        assert!(report.starts_with("1 step(s) differ"), "{report}");
        assert!(report.contains("== step 1: etcdctl get a\n"), "{report}");
        assert!(
            report.contains("exit code: -Some(0) +Some(1)\n"),
            "{report}"
        );
        assert!(report.contains("stdout:\n   a\n  -1\n  +2\n"), "{report}");
    }

    #[test]
    fn a_shorter_run_is_a_difference() {
        let want = vec![record("etcdctl put a 1", 0, "OK\n")];
        assert!(compare(&want, &[]).unwrap().contains("recorded 1 steps"));
    }

    #[test]
    fn diff_lines_cases() {
        let cases = [
            ("a\nb\n", "a\nb\n", "   a\n   b\n"),
            ("a\nb\nc\n", "a\nc\n", "   a\n  -b\n   c\n"),
            ("a\n", "a\nz\n", "   a\n  +z\n"),
            ("", "x\n", "  +x\n"),
        ];
        for (a, b, want) in cases {
            assert_eq!(diff_lines(a, b), want, "diff of {a:?} and {b:?}");
        }
    }
}
