//! Table tests of score normalisation and of the resource and spreading scores.

use super::{normalize, resources, spread};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;
use crate::testing::{node, pod};

#[test]
fn normalize_like_kube() {
    let cases: &[(&[i64], bool, &[i64])] = &[
        (&[0, 0, 0], false, &[0, 0, 0]),
        (&[0, 0, 0], true, &[100, 100, 100]),
        (&[1, 2, 4], false, &[25, 50, 100]),
        (&[1, 2, 4], true, &[75, 50, 0]),
        (&[3], false, &[100]),
    ];
    for (input, reverse, want) in cases {
        let mut scores = input.to_vec();
        normalize(&mut scores, *reverse);
        assert_eq!(&scores, want, "{input:?} reverse={reverse}");
    }
}

#[test]
fn resource_scores() {
    // (node cpu, node memory, placed cpu, placed memory, pod cpu, pod memory, least, balanced)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        i64,
        i64,
    );
    let cases: &[Case] = &[
        ("4", "8Gi", "", "", "1", "2Gi", 72, 100),
        ("4", "8Gi", "2", "2Gi", "1", "2Gi", 37, 87),
        ("4", "8Gi", "4", "8Gi", "1", "1Gi", 0, 100),
        // The placed pod without requests counts 100m and 200Mi for scoring; a pod without
        // requests gets no opinion from balance.
        ("4", "8Gi", "", "", "", "", 95, 0),
    ];
    for (ncpu, nmem, pcpu, pmem, cpu, mem, least, balanced) in cases {
        let snapshot = Snapshot::new(
            [node("n1").allocatable(ncpu, nmem, "110").build()],
            [pod("q").requests(pcpu, pmem).on("n1").build()],
        );
        let p = PodInfo::new(&pod("p").requests(cpu, mem).build());
        let n = snapshot.node("n1").unwrap();
        assert_eq!(
            resources::least_allocated(&p, n),
            *least,
            "least allocated {cases:?}"
        );
        assert_eq!(resources::balanced_allocation(&p, n), *balanced, "balanced");
    }
}

#[test]
fn spreading_counts_pods_of_the_same_service_and_controller() {
    let mut snapshot = Snapshot::new(
        ["n1", "n2", "n3"].map(|n| node(n).build()),
        [
            pod("a").label("app", "web").on("n1").build(),
            pod("b").label("app", "web").on("n1").build(),
            pod("c").label("app", "web").on("n2").build(),
            pod("d").label("app", "other").on("n3").build(),
            pod("e").label("app", "web").on("n3").terminating().build(),
        ],
    );
    snapshot.set_service(
        "default",
        "web",
        Some([("app".to_string(), "web".to_string())].into()),
    );
    let nodes: Vec<_> = snapshot.nodes().collect();
    let p = PodInfo::new(&pod("p").label("app", "web").build());
    // n1 holds 2, n2 holds 1, n3 none that count (other app, or terminating).
    assert_eq!(spread::scores(&p, &nodes, &snapshot), [0, 50, 100]);
    // A pod no Service selects and no controller owns is not spread.
    let loner = PodInfo::new(&pod("p").label("app", "solo").build());
    assert_eq!(spread::scores(&loner, &nodes, &snapshot), [0, 0, 0]);
}

#[test]
fn spreading_weighs_zones() {
    let snapshot = Snapshot::new(
        [
            node("n1").label("topology.kubernetes.io/zone", "a").build(),
            node("n2").label("topology.kubernetes.io/zone", "a").build(),
            node("n3").label("topology.kubernetes.io/zone", "b").build(),
        ],
        [pod("a").owner("rs").on("n1").build()],
    );
    let nodes: Vec<_> = snapshot.nodes().collect();
    let p = PodInfo::new(&pod("p").owner("rs").build());
    // n2 is empty but shares zone a with n1; n3's zone is empty.
    assert_eq!(spread::scores(&p, &nodes, &snapshot), [0, 33, 100]);
}
