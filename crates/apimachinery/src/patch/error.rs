//! Why a patch could not be applied, with kube-apiserver's messages and the HTTP code it answers.

/// A patch that could not be applied. `Display` gives kube-apiserver's message;
/// [`PatchError::status_code`] gives the code it answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The JSON patch body is not a list of operation objects; the text is the decoder's.
    #[error("{0}")]
    MalformedJsonPatch(String),
    /// A JSON patch operation failed: a path that does not exist, an index out of range, an
    /// unknown `op`, or a `test` that found another value. The text is kube's (its JSON patch
    /// library's), for example `testing value /a failed: test failed`.
    #[error("{0}")]
    JsonPatchFailed(String),
    /// The object or the strategic merge patch is not a JSON object.
    #[error("invalid JSON document")]
    InvalidDocument,
    /// A `$deleteFromPrimitiveList` key without the `/<field>` part.
    #[error("invalid patch format of primitive list")]
    BadDeleteFromPrimitiveList,
    /// A `$retainKeys` that is not a list, or a patch that sets a key the list does not retain.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    /// A `$setElementOrder` key without the `/<field>` part, or an order list that is not a list.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    /// A list whose elements are lists; strategic merge cannot merge those.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A list element (in the object or the patch) without the field the list merges on.
    #[error("map: {map} does not contain declared merge key: {key}")]
    MissingMergeKey { map: String, key: String },
    /// A `$patch` directive other than `replace`, `delete` (and, in lists, `merge`).
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownDirective { directive: String, map: String },
    /// `$patch: merge` inside a list, which kube has never implemented.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A `$setElementOrder` list that orders the patched elements differently from the patch.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    SetElementOrderMismatch { patch: String, order: String },
    /// A list mixing element types (objects and strings, say).
    #[error("list element types are not identical: {0}")]
    MixedElementTypes(String),
    /// An empty list given a `$setElementOrder`, where kube needs an element to learn the type.
    #[error("no elements in any of the given slices")]
    EmptyLists,
    /// A value of the wrong JSON type where a directive needs a list or an object.
    #[error("expected a {expected}, but received a {actual}")]
    WrongType {
        expected: &'static str,
        actual: &'static str,
    },
    /// A list of objects merged without a declared merge key (only reachable through
    /// `$deleteFromPrimitiveList` on such a list).
    #[error("cannot merge lists without merge key for {0}")]
    NoMergeKeyDeclared(String),
}

impl PatchError {
    /// The HTTP code kube-apiserver answers with: 400 for a body it cannot read, 422 for a patch
    /// that does not apply, and 500 for the strategic merge failures kube does not classify
    /// (it returns those as plain errors, which become internal errors).
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::MalformedJsonPatch(_)
            | PatchError::InvalidDocument
            | PatchError::BadDeleteFromPrimitiveList
            | PatchError::BadRetainKeys
            | PatchError::BadSetElementOrder => 400,
            PatchError::JsonPatchFailed(_) | PatchError::ListOfLists => 422,
            PatchError::MissingMergeKey { .. }
            | PatchError::UnknownDirective { .. }
            | PatchError::MergeDirectiveInList
            | PatchError::SetElementOrderMismatch { .. }
            | PatchError::MixedElementTypes(_)
            | PatchError::EmptyLists
            | PatchError::WrongType { .. }
            | PatchError::NoMergeKeyDeclared(_) => 500,
        }
    }
}
