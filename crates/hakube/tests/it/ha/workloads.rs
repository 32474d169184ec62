//! Issue 5's acceptance on a `hakube start --ha` cluster, with real kubectl and curl: the
//! tutorial's hello Deployment behind a NodePort, kubectl's pod verbs (logs, exec,
//! port-forward) and the kubelet's configz, rollouts and rollbacks, cordon/drain/uncordon with
//! a PodDisruptionBudget, a worker that dies, and the death of the node that runs the active
//! controller manager and scheduler.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::PROFILE;
use super::checks::{SETTLE, node_name};
use super::harness::{Ha, Kubectl, NODE_LIMIT, START_LIMIT, kill9_group, poll_until};

/// The tutorial's Deployment and NodePort Service (the seed, `shared/seeds/hello-ha.yaml`),
/// with hakube's built-in image in place of pbitty/hello-from, which answers the same way.
fn hello() -> String {
    let seed = crate::kube::seed::HELLO_HA;
    let edited = seed.replacen(
        "          image: pbitty/hello-from:latest\n",
        "          image: hakube/agnhost:2.52\n          args: [\"hello\"]\n",
        1,
    );
    assert_ne!(edited, seed, "the seed's image line moved");
    edited
}

/// A Deployment without anti-affinity that leaves a dead node after 5 s instead of the default
/// 300 s, so the node-death step measures the controllers, not the default toleration.
const SPREAD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: spread
spec:
  replicas: 4
  selector:
    matchLabels:
      app: spread
  template:
    metadata:
      labels:
        app: spread
    spec:
      tolerations:
        - key: node.kubernetes.io/unreachable
          operator: Exists
          effect: NoExecute
          tolerationSeconds: 5
        - key: node.kubernetes.io/not-ready
          operator: Exists
          effect: NoExecute
          tolerationSeconds: 5
      containers:
        - name: netexec
          image: hakube/agnhost:2.52
          args: ["netexec", "--http-port=8080"]
      terminationGracePeriodSeconds: 1
"#;

/// How long a rollout may take on a busy two-core machine (kubectl's own limit is 60 s).
const ROLLOUT: &str = "--timeout=50s";

#[test]
fn workloads_on_an_ha_cluster() -> Result<()> {
    // Four node processes, their pods and measured timings: the machine is this test's alone.
    let _machine = crate::machine::machine_alone();
    let ha = Ha::new()?;
    let steps = || -> Result<()> {
        let subnet = ha.subnet();
        ha.hakube_ok(
            &["start", "--ha", "-p", PROFILE, "--subnet", &subnet],
            START_LIMIT,
        )?;
        let kubectl = ha.kubectl();
        hello_rolls_out(&ha, &kubectl)?;
        serving_kubectl(&ha, &kubectl)?;
        changes(&kubectl)?;
        cordon_and_drain(&kubectl)?;
        a_worker_dies(&ha, &kubectl)?;
        active_components_die(&ha, &kubectl)
    };
    ha.outcome(steps())
}

/// Step 1: the Deployment rolls out one pod per node, a fourth replica cannot be placed, and
/// the NodePort answers from every pod on every node.
fn hello_rolls_out(ha: &Ha, kubectl: &Kubectl) -> Result<()> {
    apply(kubectl, &hello())?;
    let started = Instant::now();
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;
    eprintln!(
        "workloads: hello rolled out in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let pods = running_pods(kubectl, "app=hello")?;
    let nodes: BTreeSet<&str> = pods.iter().map(|p| p.node.as_str()).collect();
    ensure!(
        pods.len() == 3 && nodes.len() == 3,
        "want 3 hello pods on 3 nodes: {pods:?}"
    );

    kubectl.ok(&["scale", "deployment/hello", "--replicas=4"])?;
    let pending = poll_until("a 4th hello pod is Pending", SETTLE, || {
        let out = kubectl.ok(&[
            "get",
            "pods",
            "-l",
            "app=hello",
            "--field-selector=status.phase=Pending",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])?;
        let name = out.stdout.trim().to_string();
        ensure!(!name.is_empty() && !name.contains(' '), "pending: {out}");
        Ok(name)
    })?;
    poll_until("the FailedScheduling event", SETTLE, || {
        let out = kubectl.ok(&["describe", "pod", &pending])?;
        ensure!(
            out.stdout.contains("FailedScheduling")
                && out.stdout.contains(
                    "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
                ),
            "describe pod {pending}: {out}"
        );
        Ok(())
    })?;
    kubectl.ok(&["scale", "deployment/hello", "--replicas=3"])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;

    // kubectl's view of the Service and hakube's URL for it.
    let url = ha.hakube_ok(&["service", "hello", "--url", "-p", PROFILE], NODE_LIMIT)?;
    ensure!(
        url.stdout.trim() == format!("http://{}:31000", ha.node_ip(1)),
        "hakube service hello --url: {url}"
    );
    let pods = running_pods(kubectl, "app=hello")?;
    for number in 1..=3 {
        let target = format!("http://{}:31000/", ha.node_ip(number));
        every_pod_answers(&target, &pods)?;
    }
    Ok(())
}

/// curl to `url` repeated reaches every pod, each answering the tutorial's line.
fn every_pod_answers(url: &str, pods: &[PodView]) -> Result<()> {
    let want: BTreeSet<String> = pods
        .iter()
        .map(|p| format!("Hello from {} ({})", p.name, p.ip))
        .collect();
    poll_until(&format!("curl {url} reaches every pod"), SETTLE, || {
        let mut seen = BTreeSet::new();
        for _ in 0..12 {
            seen.insert(curl(url)?.trim().to_string());
        }
        ensure!(seen == want, "answers {seen:?}, want {want:?}");
        Ok(())
    })
}

/// Step 2: logs, exec, port-forward and the kubelet's configz through the API server's proxy.
fn serving_kubectl(ha: &Ha, kubectl: &Kubectl) -> Result<()> {
    let pods = running_pods(kubectl, "app=hello")?;
    let pod = &pods[0];
    // The hello server logs each request; step 1's curls reached every pod.
    let logs = kubectl.ok(&["logs", &pod.name])?;
    ensure!(
        !logs.stdout.trim().is_empty(),
        "kubectl logs {}: {logs}",
        pod.name
    );

    let hostname = kubectl.ok(&["exec", &pod.name, "--", "hostname"])?;
    ensure!(
        hostname.stdout.trim() == pod.name,
        "kubectl exec {} -- hostname: {hostname}",
        pod.name
    );

    let port = free_port()?;
    let mut forward = Command::new(super::harness::KUBECTL)
        .env("KUBECONFIG", ha.kubeconfig())
        .args([
            "port-forward",
            &format!("pod/{}", pod.name),
            &format!("{port}:80"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting kubectl port-forward")?;
    let forwarded = poll_until("curl through kubectl port-forward", SETTLE, || {
        curl(&format!("http://127.0.0.1:{port}/"))
    });
    let _ = forward.kill();
    let _ = forward.wait();
    let forwarded = forwarded.with_context(|| {
        let mut err = String::new();
        if let Some(mut stderr) = forward.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        format!("kubectl port-forward stderr: {err}")
    })?;
    ensure!(
        forwarded.trim() == format!("Hello from {} ({})", pod.name, pod.ip),
        "through port-forward: {forwarded}"
    );

    let node = node_name(1);
    let configz = kubectl.ok(&[
        "get",
        "--raw",
        &format!("/api/v1/nodes/{node}/proxy/configz"),
    ])?;
    let configz: Value = serde_json::from_str(&configz.stdout).context("configz is JSON")?;
    let config = &configz["kubeletconfig"];
    ensure!(
        config["healthzPort"] == 10248
            && config["containerRuntimeEndpoint"].as_str().is_some()
            && config["healthzBindAddress"].as_str().is_some(),
        "configz: {configz}"
    );
    Ok(())
}

/// Step 3: scale, rollout restart, set image, rollout undo and deleting a pod.
fn changes(kubectl: &Kubectl) -> Result<()> {
    kubectl.ok(&["scale", "deployment/hello", "--replicas=2"])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;
    poll_until("2 hello pods", SETTLE, || {
        let pods = running_pods(kubectl, "app=hello")?;
        ensure!(pods.len() == 2, "{pods:?}");
        Ok(())
    })?;
    kubectl.ok(&["scale", "deployment/hello", "--replicas=3"])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;

    let before = names(&running_pods(kubectl, "app=hello")?);
    kubectl.ok(&["rollout", "restart", "deployment/hello"])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;
    poll_until("rollout restart replaced every pod", SETTLE, || {
        let after = names(&running_pods(kubectl, "app=hello")?);
        ensure!(
            after.len() == 3 && after.is_disjoint(&before),
            "before {before:?}, after {after:?}"
        );
        Ok(())
    })?;

    kubectl.ok(&[
        "set",
        "image",
        "deployment/hello",
        "hello-from=hakube/agnhost:2.53",
    ])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;
    let history = kubectl.ok(&["rollout", "history", "deployment/hello"])?;
    ensure!(history.stdout.contains('3'), "rollout history: {history}");
    kubectl.ok(&["rollout", "undo", "deployment/hello"])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;
    let image = kubectl.ok(&[
        "get",
        "deployment/hello",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ])?;
    ensure!(
        image.stdout.trim() == "hakube/agnhost:2.52",
        "after undo the image is {image}"
    );

    let pods = running_pods(kubectl, "app=hello")?;
    let victim = pods[0].name.clone();
    kubectl.ok(&["delete", "pod", &victim])?;
    poll_until("the deleted pod is replaced", SETTLE, || {
        let now = running_pods(kubectl, "app=hello")?;
        ensure!(
            now.len() == 3 && now.iter().all(|p| p.name != victim),
            "{now:?}"
        );
        Ok(())
    })?;
    Ok(())
}

/// Step 3, continued: cordon, a drain that a PodDisruptionBudget holds back and then allows,
/// and uncordon.
fn cordon_and_drain(kubectl: &Kubectl) -> Result<()> {
    let node = node_name(3);
    kubectl.ok(&["cordon", &node])?;
    let spec = kubectl.ok(&["get", "node", &node, "-o", "jsonpath={.spec.unschedulable}"])?;
    ensure!(spec.stdout.trim() == "true", "cordoned node: {spec}");
    kubectl.ok(&[
        "create",
        "poddisruptionbudget",
        "hello",
        "--selector=app=hello",
        "--min-available=3",
    ])?;
    let held = kubectl.run(&[
        "drain",
        &node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=8s",
    ])?;
    ensure!(
        !held.success() && held.stderr.contains("disruption budget"),
        "a drain against minAvailable 3 must be refused: {held}"
    );
    kubectl.ok(&[
        "patch",
        "poddisruptionbudget",
        "hello",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":2}}"#,
    ])?;
    poll_until("drain succeeds once the budget allows it", SETTLE, || {
        kubectl.ok(&[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=30s",
        ])
    })?;
    let pods = running_pods(kubectl, "app=hello")?;
    ensure!(
        pods.iter().all(|p| p.node != node),
        "a pod still runs on the drained node: {pods:?}"
    );
    kubectl.ok(&["uncordon", &node])?;
    kubectl.ok(&["rollout", "status", "deployment/hello", ROLLOUT])?;
    poll_until(
        "the evicted replica returns to the uncordoned node",
        SETTLE,
        || {
            let pods = running_pods(kubectl, "app=hello")?;
            ensure!(
                pods.len() == 3 && pods.iter().any(|p| p.node == node),
                "{pods:?}"
            );
            Ok(())
        },
    )?;
    kubectl.ok(&["delete", "poddisruptionbudget", "hello"])?;
    Ok(())
}

/// Step 4: kill -9 a worker (its node process and its pods, as a machine dies): the Node goes
/// NotReady, its pods are evicted and recreated on the other nodes.
fn a_worker_dies(ha: &Ha, kubectl: &Kubectl) -> Result<()> {
    ha.hakube_ok(&["node", "add", "-p", PROFILE], NODE_LIMIT)?;
    let worker = node_name(4);
    kubectl.ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("node/{worker}"),
        "--timeout=120s",
    ])?;
    apply(kubectl, SPREAD)?;
    kubectl.ok(&["rollout", "status", "deployment/spread", ROLLOUT])?;
    // Spreading puts one of four replicas on the new, empty worker.
    let on_worker: Vec<String> = poll_until("a spread pod on the worker", SETTLE, || {
        let pods = running_pods(kubectl, "app=spread")?;
        let here: Vec<String> = pods
            .iter()
            .filter(|p| p.node == worker)
            .map(|p| p.name.clone())
            .collect();
        ensure!(!here.is_empty(), "none of {pods:?} on {worker}");
        Ok(here)
    })?;

    let pid = ha.node_pid(PROFILE, &worker)?;
    let killed = Instant::now();
    kill9_group(pid);
    poll_until(
        "the dead worker's Node is NotReady",
        Duration::from_secs(120),
        || {
            let ready = kubectl.ok(&[
                "get",
                "node",
                &worker,
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
            ])?;
            ensure!(ready.stdout.trim() == "Unknown", "Ready is {ready}");
            Ok(())
        },
    )?;
    let not_ready = killed.elapsed();
    poll_until(
        "the dead worker's pods are evicted",
        Duration::from_secs(120),
        || {
            let pods = running_pods(kubectl, "app=spread")?;
            ensure!(
                pods.iter().all(|p| !on_worker.contains(&p.name)),
                "still there: {on_worker:?}"
            );
            Ok(())
        },
    )?;
    let evicted = killed.elapsed();
    poll_until(
        "4 spread pods run on the live nodes",
        Duration::from_secs(120),
        || {
            let pods = running_pods(kubectl, "app=spread")?;
            ensure!(
                pods.len() == 4 && pods.iter().all(|p| p.node != worker),
                "{pods:?}"
            );
            Ok(())
        },
    )?;
    eprintln!(
        "workloads: worker kill -9 -> NotReady {:.1}s, pods evicted {:.1}s, replaced {:.1}s",
        not_ready.as_secs_f64(),
        evicted.as_secs_f64(),
        killed.elapsed().as_secs_f64()
    );
    kubectl.ok(&["delete", "deployment", "spread"])?;
    ha.hakube_ok(&["node", "delete", &worker, "-p", PROFILE], NODE_LIMIT)?;
    Ok(())
}

/// Step 5: kill -9 the node whose controller manager leads: another node's takes over (and
/// the scheduler's, when that node held it too), and a new Deployment still rolls out.
fn active_components_die(ha: &Ha, kubectl: &Kubectl) -> Result<()> {
    let holder = |lease: &str| -> Result<String> {
        let out = kubectl.ok(&[
            "get",
            "lease",
            "-n",
            "kube-system",
            lease,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])?;
        let identity = out.stdout.trim().to_string();
        // kube's identities are `<host>_<uuid>`.
        let node = identity
            .rsplit_once('_')
            .map_or(identity.as_str(), |(node, _)| node)
            .to_string();
        ensure!(!node.is_empty(), "{lease} has no holder");
        Ok(node)
    };
    let manager = holder("kube-controller-manager")?;
    let scheduler = holder("kube-scheduler")?;
    let pid = ha.node_pid(PROFILE, &manager)?;
    let killed = Instant::now();
    kill9_group(pid);
    let new_manager = poll_until("another controller manager leads", SETTLE, || {
        let now = holder("kube-controller-manager")?;
        ensure!(now != manager, "still {now}");
        Ok(now)
    })?;
    let manager_took = killed.elapsed();
    if scheduler == manager {
        poll_until("another scheduler leads", SETTLE, || {
            let now = holder("kube-scheduler")?;
            ensure!(now != scheduler, "still {now}");
            Ok(())
        })?;
    }
    eprintln!(
        "workloads: kill -9 of {manager} -> {new_manager} leads the controller manager after \
         {:.1}s (scheduler was on {scheduler})",
        manager_took.as_secs_f64()
    );
    // Until the node lifecycle controller marks the dead node (40 s without a heartbeat), the
    // scheduler may still place a replica there, as Kubernetes' would; the short toleration
    // then moves it within seconds instead of the default five minutes.
    apply(
        kubectl,
        &SPREAD
            .replace("name: spread", "name: after")
            .replace("app: spread", "app: after"),
    )?;
    kubectl.ok_within(
        &["rollout", "status", "deployment/after", "--timeout=150s"],
        Duration::from_secs(160),
    )?;
    eprintln!(
        "workloads: a new Deployment rolled out {:.1}s after the kill",
        killed.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One pod as the checks need it.
#[derive(Debug, Clone)]
struct PodView {
    name: String,
    node: String,
    ip: String,
}

/// The Running, not terminating, pods with `selector`.
fn running_pods(kubectl: &Kubectl, selector: &str) -> Result<Vec<PodView>> {
    let out = kubectl.ok(&["get", "pods", "-l", selector, "-o", "json"])?;
    let list: Value = serde_json::from_str(&out.stdout).context("kubectl get pods -o json")?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    Ok(items
        .iter()
        .filter(|p| {
            p["status"]["phase"] == "Running" && p["metadata"]["deletionTimestamp"].is_null()
        })
        .map(|p| PodView {
            name: p["metadata"]["name"].as_str().unwrap_or_default().into(),
            node: p["spec"]["nodeName"].as_str().unwrap_or_default().into(),
            ip: p["status"]["podIP"].as_str().unwrap_or_default().into(),
        })
        .collect())
}

fn names(pods: &[PodView]) -> BTreeSet<String> {
    pods.iter().map(|p| p.name.clone()).collect()
}

/// `kubectl apply -f -` with `manifest` on stdin.
fn apply(kubectl: &Kubectl, manifest: &str) -> Result<()> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), manifest)?;
    let path = file.path().to_string_lossy().into_owned();
    kubectl.ok(&["apply", "-f", &path])?;
    Ok(())
}

/// The body curl gets from `url`, failing on a non-2xx answer or a refused connection.
fn curl(url: &str) -> Result<String> {
    let out = super::harness::run(
        {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--fail", "--max-time", "5", url]);
            cmd
        },
        &format!("curl {url}"),
        Duration::from_secs(10),
    )?;
    if !out.success() {
        bail!("curl {url}: {out}");
    }
    Ok(out.stdout)
}

/// A loopback port nobody listens on now.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
