//! Field selectors (`spec.nodeName=n1,status.phase!=Failed`): parsing with kube's escaping rules,
//! checking them against what a resource offers, and matching objects.

use std::fmt;

use serde_json::Value;

use super::SelectorError;
use super::selectable;

/// Whether a field must equal or differ from the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOperator {
    /// `f=v` or `f==v`.
    Equals,
    /// `f!=v`; an object without the field has the empty value, which may well differ.
    NotEquals,
}

/// One term of a field selector, its value already unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A field selector: every term must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses the `fieldSelector` query parameter. A value may contain `\,`, `\=` and `\\`; any
    /// other backslash, or a bare `,` or `=` inside a value, is refused as kube refuses it. The
    /// terms are kept in sorted order, as kube keeps them.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut terms = split_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, operator, raw)) = split_term(term) else {
                return Err(SelectorError::InvalidFieldTerm {
                    selector: selector.to_string(),
                    term: term.to_string(),
                });
            };
            requirements.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value: unescape(raw)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Refuses fields the resource does not offer, with the message kube-apiserver answers in its
    /// 400 (`field label not supported: foo`, or another resource's own wording).
    pub fn check_supported(&self, resource_plural: &str, group: &str) -> Result<(), SelectorError> {
        let resource = selectable::lookup(group, resource_plural);
        for r in &self.requirements {
            if resource.source(&r.field).is_none() {
                return Err(resource.refusal(&r.field));
            }
        }
        Ok(())
    }

    /// The selector as kube-apiserver keeps it once checked against a resource: refused when it
    /// names a field the resource does not offer, and with old field names (`spec.host`)
    /// rewritten to the current ones, so [`FieldSelector::requires_exact_match`] finds them.
    pub fn resolve(mut self, resource_plural: &str, group: &str) -> Result<Self, SelectorError> {
        self.check_supported(resource_plural, group)?;
        let resource = selectable::lookup(group, resource_plural);
        for r in &mut self.requirements {
            r.field = resource.canonical(&r.field).to_string();
        }
        Ok(self)
    }

    /// Whether the object (its full JSON) satisfies every term, reading each field the way kube
    /// computes it: a missing string is empty, a missing boolean `false`, a missing count `0`. A
    /// field the resource does not offer reads as empty; [`FieldSelector::check_supported`] is
    /// where such selectors are refused.
    pub fn matches(&self, obj: &Value, resource_plural: &str, group: &str) -> bool {
        let resource = selectable::lookup(group, resource_plural);
        self.requirements.iter().all(|r| {
            let actual = resource
                .source(&r.field)
                .map(|source| source.read(obj))
                .unwrap_or_default();
            match r.operator {
                FieldOperator::Equals => actual == r.value,
                FieldOperator::NotEquals => actual != r.value,
            }
        })
    }

    /// The value a field must have for this selector to match (`metadata.name=x`), letting a
    /// caller fetch one object, or one node's pods, instead of scanning.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// kube's canonical form: `f=v` or `f!=v` terms with values escaped, joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match r.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            write!(f, "{}{op}{}", r.field, escape(&r.value))?;
        }
        Ok(())
    }
}

/// Splits on commas that are not escaped by a backslash.
fn split_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator; at one position `!=` and `==` win over `=`.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

fn unescape(raw: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(raw.len());
    let mut escaped = false;
    for c in raw.chars() {
        if escaped {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => return Err(SelectorError::InvalidEscape(format!("\\{other}"))),
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c)),
            c => out.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(out)
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
