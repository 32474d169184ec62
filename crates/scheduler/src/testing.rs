//! Builders for nodes and pods in the scheduler's table tests.

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

/// A node under construction: 4 CPUs, 8Gi, 110 pods, labelled with its hostname.
pub struct N(pub Value);

pub fn node(name: &str) -> N {
    N(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }))
}

impl N {
    pub fn label(mut self, key: &str, value: &str) -> N {
        self.0["metadata"]["labels"][key] = json!(value);
        self
    }

    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> N {
        let taints = self.0["spec"]
            .as_object_mut()
            .unwrap()
            .entry("taints")
            .or_insert_with(|| json!([]));
        let mut taint = json!({"key": key, "effect": effect});
        if !value.is_empty() {
            taint["value"] = json!(value);
        }
        taints.as_array_mut().unwrap().push(taint);
        self
    }

    pub fn unschedulable(mut self) -> N {
        self.0["spec"]["unschedulable"] = json!(true);
        self
    }

    pub fn allocatable(mut self, cpu: &str, memory: &str, pods: &str) -> N {
        self.0["status"]["allocatable"] = json!({"cpu": cpu, "memory": memory, "pods": pods});
        self
    }

    pub fn extended(mut self, name: &str, amount: &str) -> N {
        self.0["status"]["allocatable"][name] = json!(amount);
        self
    }

    pub fn build(self) -> Node {
        serde_json::from_value(self.0).unwrap()
    }
}

/// A pod under construction in namespace `default`, with one container `c`.
pub struct P(pub Value);

pub fn pod(name: &str) -> P {
    P(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "c", "image": "hakube/pause"}]},
    }))
}

impl P {
    pub fn namespace(mut self, ns: &str) -> P {
        self.0["metadata"]["namespace"] = json!(ns);
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> P {
        if self.0["metadata"].get("labels").is_none() {
            self.0["metadata"]["labels"] = json!({});
        }
        self.0["metadata"]["labels"][key] = json!(value);
        self
    }

    pub fn on(mut self, node: &str) -> P {
        self.0["spec"]["nodeName"] = json!(node);
        self
    }

    pub fn phase(mut self, phase: &str) -> P {
        self.0["status"]["phase"] = json!(phase);
        self
    }

    pub fn requests(mut self, cpu: &str, memory: &str) -> P {
        let mut requests = json!({});
        if !cpu.is_empty() {
            requests["cpu"] = json!(cpu);
        }
        if !memory.is_empty() {
            requests["memory"] = json!(memory);
        }
        self.0["spec"]["containers"][0]["resources"] = json!({"requests": requests});
        self
    }

    pub fn container(mut self, container: Value) -> P {
        self.0["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(container);
        self
    }

    pub fn init_container(mut self, container: Value) -> P {
        if self.0["spec"].get("initContainers").is_none() {
            self.0["spec"]["initContainers"] = json!([]);
        }
        self.0["spec"]["initContainers"]
            .as_array_mut()
            .unwrap()
            .push(container);
        self
    }

    pub fn host_port(mut self, port: i32, protocol: &str, ip: &str) -> P {
        let mut p = json!({"containerPort": port, "hostPort": port, "protocol": protocol});
        if !ip.is_empty() {
            p["hostIP"] = json!(ip);
        }
        self.0["spec"]["containers"][0]["ports"] = json!([p]);
        self
    }

    pub fn toleration(mut self, toleration: Value) -> P {
        if self.0["spec"].get("tolerations").is_none() {
            self.0["spec"]["tolerations"] = json!([]);
        }
        self.0["spec"]["tolerations"]
            .as_array_mut()
            .unwrap()
            .push(toleration);
        self
    }

    pub fn node_selector(mut self, key: &str, value: &str) -> P {
        self.0["spec"]["nodeSelector"] = json!({key: value});
        self
    }

    pub fn affinity(mut self, affinity: Value) -> P {
        self.0["spec"]["affinity"] = affinity;
        self
    }

    /// Required anti-affinity against pods labelled `key=value`, per `topology`.
    pub fn anti_affinity(self, key: &str, value: &str, topology: &str) -> P {
        self.affinity(
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {key: value}}, "topologyKey": topology}
            ]}}),
        )
    }

    /// Required affinity to pods labelled `key=value`, per `topology`.
    pub fn pod_affinity(self, key: &str, value: &str, topology: &str) -> P {
        self.affinity(
            json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {key: value}}, "topologyKey": topology}
            ]}}),
        )
    }

    pub fn priority(mut self, priority: i32) -> P {
        self.0["spec"]["priority"] = json!(priority);
        self
    }

    pub fn never_preempt(mut self) -> P {
        self.0["spec"]["preemptionPolicy"] = json!("Never");
        self
    }

    pub fn owner(mut self, uid: &str) -> P {
        self.0["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true
        }]);
        self
    }

    pub fn terminating(mut self) -> P {
        self.0["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        self
    }

    pub fn build(self) -> Pod {
        serde_json::from_value(self.0).unwrap()
    }
}
