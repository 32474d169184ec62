//! A filter's verdict on one node: which plugin refused it, whether preemption could change
//! that, and the reasons in Kubernetes' words.

use std::fmt;

/// The scheduling plugins hakube implements, named as in kube-scheduler's default profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plugin {
    NodeUnschedulable,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    InterPodAffinity,
    DefaultPreemption,
}

impl Plugin {
    pub fn name(self) -> &'static str {
        match self {
            Plugin::NodeUnschedulable => "NodeUnschedulable",
            Plugin::TaintToleration => "TaintToleration",
            Plugin::NodeAffinity => "NodeAffinity",
            Plugin::NodePorts => "NodePorts",
            Plugin::NodeResourcesFit => "NodeResourcesFit",
            Plugin::InterPodAffinity => "InterPodAffinity",
            Plugin::DefaultPreemption => "DefaultPreemption",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A small set of plugins: those that rejected a pod, so that only cluster changes one of them
/// cares about send the pod back to the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginSet(u8);

impl PluginSet {
    pub fn all() -> PluginSet {
        PluginSet(u8::MAX)
    }

    pub fn insert(&mut self, plugin: Plugin) {
        self.0 |= plugin.bit();
    }

    pub fn contains(self, plugin: Plugin) -> bool {
        self.0 & plugin.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersects(self, other: PluginSet) -> bool {
        self.0 & other.0 != 0
    }
}

impl FromIterator<Plugin> for PluginSet {
    fn from_iter<I: IntoIterator<Item = Plugin>>(iter: I) -> Self {
        let mut set = PluginSet::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// How final a rejection is. Preemption only looks at nodes rejected with `Unschedulable`:
/// evicting pods cannot fix a taint or a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// Why one node cannot take the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub plugin: Plugin,
    /// Kubernetes' reason strings; most plugins give one, NodeResourcesFit one per resource.
    pub reasons: Vec<String>,
}

impl Status {
    pub fn unschedulable(plugin: Plugin, reason: impl Into<String>) -> Status {
        Status {
            code: Code::Unschedulable,
            plugin,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(plugin: Plugin, reason: impl Into<String>) -> Status {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            plugin,
            reasons: vec![reason.into()],
        }
    }
}
