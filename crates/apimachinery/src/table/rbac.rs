//! Tables of `rbac.authorization.k8s.io`: role bindings and cluster role bindings. Roles and
//! cluster roles have no printer in kube-apiserver and get the default table.

use std::time::SystemTime;

use serde_json::Value;

use super::object::{self, items, text};
use super::{AGE, Column, NAME, Printer};

const GROUP: &str = "rbac.authorization.k8s.io";

pub(super) const PRINTERS: &[Printer] = &[
    Printer::new(GROUP, "rolebindings", BINDING_COLUMNS, binding_row),
    Printer::new(GROUP, "clusterrolebindings", BINDING_COLUMNS, binding_row),
];

const BINDING_COLUMNS: &[Column] = &[
    NAME,
    Column::text("Role", "The role the binding grants, as kind/name."),
    AGE,
    Column::text("Users", "Users the binding grants the role to.").wide(),
    Column::text("Groups", "Groups the binding grants the role to.").wide(),
    Column::text(
        "ServiceAccounts",
        "Service accounts the binding grants the role to, as namespace/name.",
    )
    .wide(),
];

fn binding_row(binding: &Value, now: SystemTime) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        text(binding, &["roleRef", "kind"]),
        text(binding, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut service_accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in items(binding, &["subjects"]) {
        let name = text(subject, &["name"]);
        match text(subject, &["kind"]) {
            "User" => users.push(name.to_string()),
            "Group" => groups.push(name.to_string()),
            "ServiceAccount" => {
                service_accounts.push(format!("{}/{name}", text(subject, &["namespace"])));
            }
            // Subjects of other kinds are not shown.
            _ => {}
        }
    }
    vec![
        object::name(binding),
        Value::from(role),
        object::age(binding, now),
        Value::from(users.join(", ")),
        Value::from(groups.join(", ")),
        Value::from(service_accounts.join(", ")),
    ]
}
