//! RBAC: the authorizer over Roles and Bindings, and the default bootstrap policy.
