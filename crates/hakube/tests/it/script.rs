//! A script of etcdctl invocations and harness actions, and the runner that plays it against one
//! cluster and records what every command printed, normalised for comparison.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::etcdctl::{Background, Output, POLL_INTERVAL};
use crate::normalise::{IdKind, Normalised, Normaliser};

/// The founding members, which every command talks to unless it says otherwise.
const FOUNDERS: &[&str] = &["m1", "m2", "m3"];

/// How long a step that waits for a condition may take.
const STEP_LIMIT: Duration = Duration::from_secs(30);

/// One etcdctl invocation. Arguments may hold placeholders filled in from what earlier steps
/// captured: `{lease:NAME}`, `{id:MEMBER}`, `{rev:NAME}`, `{peer:MEMBER}` and `{dir}`.
#[derive(Clone, Debug)]
pub struct Ctl {
    pub args: Vec<String>,
    pub stdin: Option<String>,
    pub members: &'static [&'static str],
    pub capture: Option<Capture>,
}

/// Splits a command line on spaces (use `Ctl::args` for an argument that is empty).
pub fn ctl(line: &str) -> Ctl {
    Ctl::args(&line.split(' ').collect::<Vec<_>>())
}

impl Ctl {
    pub fn args(args: &[&str]) -> Ctl {
        Ctl {
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: None,
            members: FOUNDERS,
            capture: None,
        }
    }

    pub fn stdin(mut self, text: String) -> Ctl {
        self.stdin = Some(text);
        self
    }

    pub fn on(mut self, members: &'static [&'static str]) -> Ctl {
        self.members = members;
        self
    }

    pub fn capture(mut self, capture: Capture) -> Ctl {
        self.capture = Some(capture);
        self
    }

    fn line(&self) -> String {
        let shown: Vec<&str> = self
            .args
            .iter()
            .map(|a| if a.is_empty() { "\"\"" } else { a.as_str() })
            .collect();
        let mut line = format!("etcdctl {}", shown.join(" "));
        if self.members != FOUNDERS {
            line.push_str(&format!("   [on {}]", self.members.join(",")));
        }
        if let Some(stdin) = &self.stdin {
            line.push_str(&format!("   <<< {stdin:?}"));
        }
        line
    }
}

/// Something a step's output names that later steps refer to.
#[derive(Clone, Copy, Debug)]
pub enum Capture {
    /// The lease that `lease grant` created, as `{lease:NAME}`.
    Lease(&'static str),
    /// The member that `member add` created, as `{id:NAME}`.
    Member(&'static str),
    /// One past the header revision of a `-w json` output, as `{rev:NAME}`: the first revision
    /// that a watch started from there will see.
    NextRevision(&'static str),
}

/// One step of a script.
pub enum Step {
    Run(Ctl),
    /// Re-runs the command until `done` holds, then records that last output.
    Until {
        ctl: Ctl,
        done: fn(&Output) -> bool,
    },
    /// Starts a long-running etcdctl (watch, keep-alive) under a name.
    Start {
        name: &'static str,
        ctl: Ctl,
    },
    /// Waits until the named background command printed `until`, stops it and records all it
    /// printed.
    Collect {
        name: &'static str,
        until: &'static str,
    },
    /// Stops the named background command without recording what it printed.
    Stop {
        name: &'static str,
    },
    /// Lets time pass, for steps whose point is what time does (a lease outliving its TTL).
    Elapse {
        time: Duration,
    },
    /// Reserves the address of the next member, which must be called `name`.
    PlanMember(&'static str),
    /// Starts a planned member that has been added with `member add`.
    StartMember(&'static str),
    /// Stops a member that has been removed with `member remove`.
    ForgetMember(&'static str),
}

/// What one recorded step printed.
#[derive(Clone, Debug)]
pub struct Record {
    /// The step as the script wrote it, placeholders unfilled, so it reads the same for every
    /// cluster.
    pub step: String,
    pub output: Normalised,
    /// Set when the harness, rather than etcdctl, failed at this step.
    pub harness_error: bool,
}

struct Raw {
    step: String,
    args: Vec<String>,
    output: Output,
    harness_error: bool,
}

/// Plays `steps` against `cluster` and returns the normalised records.
pub fn run(cluster: &mut Cluster, steps: &[Step]) -> Result<Vec<Record>> {
    let mut runner = Runner::new(cluster)?;
    for step in steps {
        if let Err(error) = runner.step(step) {
            runner.raw.push(Raw {
                step: describe(step),
                args: Vec::new(),
                output: Output {
                    code: None,
                    stdout: String::new(),
                    stderr: format!("harness: {error:#}\n"),
                },
                harness_error: true,
            });
        }
    }
    Ok(runner
        .raw
        .iter()
        .map(|raw| Record {
            step: raw.step.clone(),
            output: runner.normaliser.output(&raw.args, &raw.output),
            harness_error: raw.harness_error,
        })
        .collect())
}

fn describe(step: &Step) -> String {
    match step {
        Step::Run(ctl) => ctl.line(),
        Step::Until { ctl, .. } => format!("{}   (until it succeeds as expected)", ctl.line()),
        Step::Start { name, ctl } => format!("start {name}: {}", ctl.line()),
        Step::Collect { name, until } => format!("collect {name} once it printed {until:?}"),
        Step::Stop { name } => format!("stop {name}"),
        Step::Elapse { time } => format!("let {time:?} pass"),
        Step::PlanMember(name) => format!("plan member {name}"),
        Step::StartMember(name) => format!("start member {name}"),
        Step::ForgetMember(name) => format!("forget member {name}"),
    }
}

struct Runner<'a> {
    cluster: &'a mut Cluster,
    normaliser: Normaliser,
    vars: HashMap<String, String>,
    /// Running background commands, with the args they were started with.
    background: HashMap<&'static str, (Vec<String>, Background)>,
    raw: Vec<Raw>,
}

impl<'a> Runner<'a> {
    fn new(cluster: &'a mut Cluster) -> Result<Runner<'a>> {
        let mut normaliser = Normaliser::default();
        normaliser.replace(cluster.address_prefix(), "127.x.y.");
        normaliser.replace(cluster.dir().display().to_string(), "<dir>");
        let mut vars = HashMap::new();
        vars.insert("dir".to_string(), cluster.dir().display().to_string());
        let (cluster_id, members) = cluster.member_list()?;
        normaliser.name_id(IdKind::Cluster, cluster_id, "<cluster>");
        for member in members {
            normaliser.name_id(
                IdKind::Member,
                member.id,
                format!("<member {}>", member.name),
            );
            vars.insert(format!("id:{}", member.name), format!("{:x}", member.id));
        }
        Ok(Runner {
            cluster,
            normaliser,
            vars,
            background: HashMap::new(),
            raw: Vec::new(),
        })
    }

    fn step(&mut self, step: &Step) -> Result<()> {
        match step {
            Step::Run(ctl) => {
                let out = self.ctl(ctl)?;
                self.record(step, ctl, out)
            }
            Step::Until { ctl, done } => {
                let deadline = Instant::now() + STEP_LIMIT;
                loop {
                    let out = self.ctl(ctl)?;
                    if done(&out) {
                        return self.record(step, ctl, out);
                    }
                    if Instant::now() > deadline {
                        bail!("not done within {STEP_LIMIT:?}; last output: {out}");
                    }
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
            Step::Start { name, ctl } => {
                let args = self.fill(&ctl.args)?;
                let background = self.etcdctl(ctl)?.spawn(&args)?;
                self.background.insert(name, (ctl.args.clone(), background));
                Ok(())
            }
            Step::Collect { name, until } => {
                let (args, mut background) = self
                    .background
                    .remove(name)
                    .with_context(|| format!("no background command {name}"))?;
                background.wait_for(until, STEP_LIMIT)?;
                let output = background.stop();
                // The command was killed by the harness; how it ended is not its behaviour.
                let output = Output {
                    code: None,
                    ..output
                };
                self.raw.push(Raw {
                    step: describe(step),
                    args,
                    output,
                    harness_error: false,
                });
                Ok(())
            }
            Step::Stop { name } => {
                if let Some((_, background)) = self.background.remove(name) {
                    background.stop();
                }
                Ok(())
            }
            Step::Elapse { time } => {
                std::thread::sleep(*time);
                Ok(())
            }
            Step::PlanMember(name) => {
                let i = self.cluster.plan_member()?;
                if self.cluster.name(i) != *name {
                    bail!("the next member is {}, not {name}", self.cluster.name(i));
                }
                self.vars
                    .insert(format!("peer:{name}"), self.cluster.peer_url(i));
                Ok(())
            }
            Step::StartMember(name) => {
                let i = self.cluster.index_of(name)?;
                self.cluster.start_member(i)
            }
            Step::ForgetMember(name) => {
                let i = self.cluster.index_of(name)?;
                self.cluster.forget(i);
                Ok(())
            }
        }
    }

    fn etcdctl(&self, ctl: &Ctl) -> Result<crate::etcdctl::Etcdctl> {
        let members = ctl
            .members
            .iter()
            .map(|name| self.cluster.index_of(name))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.cluster.etcdctl_for(&members))
    }

    fn ctl(&self, ctl: &Ctl) -> Result<Output> {
        let args = self.fill(&ctl.args)?;
        self.etcdctl(ctl)?.run_owned(&args, ctl.stdin.as_deref())
    }

    fn record(&mut self, step: &Step, ctl: &Ctl, output: Output) -> Result<()> {
        if let Some(capture) = ctl.capture {
            self.capture(capture, &output)
                .with_context(|| format!("capturing {capture:?} from {output}"))?;
        }
        self.raw.push(Raw {
            step: describe(step),
            args: ctl.args.clone(),
            output,
            harness_error: false,
        });
        Ok(())
    }

    fn capture(&mut self, capture: Capture, out: &Output) -> Result<()> {
        match capture {
            Capture::Lease(name) => {
                let id = match out.stdout.split(' ').nth(1) {
                    Some(hex) if out.stdout.starts_with("lease ") => u64::from_str_radix(hex, 16)?,
                    _ => json(&out.stdout)?["ID"]
                        .as_u64()
                        .ok_or_else(|| anyhow!("no lease ID"))?,
                };
                self.normaliser
                    .name_id(IdKind::Lease, id, format!("<lease {name}>"));
                self.vars.insert(format!("lease:{name}"), format!("{id:x}"));
            }
            Capture::Member(name) => {
                let hex = out
                    .stdout
                    .strip_prefix("Member ")
                    // Printed with `%16x`: a short ID comes with leading spaces.
                    .and_then(|rest| rest.split_whitespace().next())
                    .ok_or_else(|| anyhow!("no `Member <id> added` line"))?;
                let id = u64::from_str_radix(hex, 16)?;
                self.normaliser
                    .name_id(IdKind::Member, id, format!("<member {name}>"));
                self.vars.insert(format!("id:{name}"), hex.to_string());
            }
            Capture::NextRevision(name) => {
                let revision = json(&out.stdout)?["header"]["revision"]
                    .as_u64()
                    .ok_or_else(|| anyhow!("no header.revision"))?;
                self.vars
                    .insert(format!("rev:{name}"), (revision + 1).to_string());
            }
        }
        Ok(())
    }

    /// Fills `{kind:name}` placeholders with what earlier steps captured.
    fn fill(&self, args: &[String]) -> Result<Vec<String>> {
        args.iter()
            .map(|arg| {
                let mut out = String::new();
                let mut rest = arg.as_str();
                while let Some(start) = rest.find('{') {
                    let end = rest[start..]
                        .find('}')
                        .with_context(|| format!("unclosed placeholder in {arg}"))?;
                    let key = &rest[start + 1..start + end];
                    let value = self
                        .vars
                        .get(key)
                        .with_context(|| format!("nothing captured as {{{key}}} yet"))?;
                    out.push_str(&rest[..start]);
                    out.push_str(value);
                    rest = &rest[start + end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            })
            .collect()
    }
}

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text.trim()).with_context(|| format!("not JSON: {text}"))
}
