//! Discovery documents: legacy APIResourceList/APIGroupList and aggregated (v2) discovery.
