//! Label and field selectors: parsing and matching, as kube-apiserver applies them.
