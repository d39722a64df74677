//! Domains and domain spaces: the fixed, ordered list of domains a mixture is defined over.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::field::validate_name;
use crate::{CoreError, Field};

/// One data domain, belonging to exactly one field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Domain {
    /// Unique name within its space (`[a-z0-9_-]+`).
    pub name: String,
    /// The field the domain belongs to.
    pub field: Field,
}

impl Domain {
    /// Validates the name and builds a domain.
    pub fn new(name: impl Into<String>, field: Field) -> Result<Self, CoreError> {
        let name = name.into();
        validate_name("domain", &name)?;
        Ok(Domain { name, field })
    }
}

/// Index of a domain within its [`DomainSpace`]; what the hot path carries instead of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DomainId(pub u16);

impl DomainId {
    /// The index as a `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An ordered list of distinct domains. Both the K-D space (one entry per corpus domain) and the
/// 2-D field-level space (one entry per field, see [`DomainSpace::field_level`]) are spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSpace {
    domains: Vec<Domain>,
    #[serde(skip)]
    index: HashMap<String, DomainId>,
}

impl DomainSpace {
    /// Builds a space; rejects an empty list, duplicate names and more than 65,535 domains.
    pub fn new(domains: Vec<Domain>) -> Result<Self, CoreError> {
        if domains.is_empty() {
            return Err(CoreError::EmptySpace);
        }
        let mut index = HashMap::with_capacity(domains.len());
        for (i, d) in domains.iter().enumerate() {
            validate_name("domain", &d.name)?;
            let id = u16::try_from(i).map_err(|_| {
                CoreError::InvalidSchedule("a domain space holds at most 65,535 domains".into())
            })?;
            if index.insert(d.name.clone(), DomainId(id)).is_some() {
                return Err(CoreError::DuplicateDomain(d.name.clone()));
            }
        }
        Ok(DomainSpace { domains, index })
    }

    /// The field-level (2-D for two fields) space: one entry per field, named after the field,
    /// in order of first appearance.
    pub fn field_level(&self) -> DomainSpace {
        let mut out: Vec<Domain> = Vec::new();
        for d in &self.domains {
            if !out.iter().any(|f| f.field == d.field) {
                out.push(Domain { name: d.field.as_str().to_string(), field: d.field.clone() });
            }
        }
        DomainSpace::new(out).expect("field names are valid, distinct domain names")
    }

    /// The sub-space of the domains whose field is one of `fields`, in the space's order.
    pub fn restrict_to_fields(&self, fields: &[Field]) -> Result<DomainSpace, CoreError> {
        DomainSpace::new(
            self.domains.iter().filter(|d| fields.contains(&d.field)).cloned().collect(),
        )
    }

    /// Number of domains.
    pub fn len(&self) -> usize {
        self.domains.len()
    }

    /// Always false: a space has at least one domain.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The domains in order.
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// The domain with this id. Panics on an id from another space (a programming error).
    pub fn domain(&self, id: DomainId) -> &Domain {
        &self.domains[id.index()]
    }

    /// Looks a domain up by name.
    pub fn id(&self, name: &str) -> Result<DomainId, CoreError> {
        self.index.get(name).copied().ok_or_else(|| CoreError::UnknownDomain {
            name: name.to_string(),
            known: self.names().collect::<Vec<_>>().join(", "),
        })
    }

    /// Domain names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().map(|d| d.name.as_str())
    }

    /// The distinct fields, in order of first appearance.
    pub fn fields(&self) -> Vec<Field> {
        let mut out: Vec<Field> = Vec::new();
        for d in &self.domains {
            if !out.contains(&d.field) {
                out.push(d.field.clone());
            }
        }
        out
    }

    /// A stable 16-hex-digit fingerprint of the ordered (name, field) list (FNV-1a 64), recorded
    /// wherever a mixture or policy is tied to a space.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for d in &self.domains {
            for b in d.name.bytes().chain([0u8]).chain(d.field.as_str().bytes()).chain([1u8]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }
}

impl<'de> Deserialize<'de> for DomainSpace {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            domains: Vec<Domain>,
        }
        let raw = Raw::deserialize(de)?;
        DomainSpace::new(raw.domains).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DomainSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-D space [{}]", self.len(), self.names().collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> DomainSpace {
        let g = Field::new("general").unwrap();
        let m = Field::new("math").unwrap();
        DomainSpace::new(vec![
            Domain::new("brown", g.clone()).unwrap(),
            Domain::new("algebra", m.clone()).unwrap(),
            Domain::new("wiki", g).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn field_level_collapses_domains_by_field() {
        let f = space().field_level();
        assert_eq!(f.names().collect::<Vec<_>>(), ["general", "math"]);
    }

    #[test]
    fn unknown_domain_lists_known_ones() {
        let err = space().id("code").unwrap_err().to_string();
        assert!(
            err.contains("unknown domain `code`") && err.contains("brown, algebra, wiki"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_and_bad_names_are_rejected() {
        let g = Field::new("general").unwrap();
        let d = Domain::new("a", g.clone()).unwrap();
        assert_eq!(
            DomainSpace::new(vec![d.clone(), d]),
            Err(CoreError::DuplicateDomain("a".into()))
        );
        assert!(Domain::new("Bad Name", g).is_err());
        assert!(Field::new("").is_err());
        assert_eq!(DomainSpace::new(vec![]), Err(CoreError::EmptySpace));
    }

    #[test]
    fn fingerprint_depends_on_order_and_fields() {
        let s = space();
        let r = DomainSpace::new(s.domains().iter().rev().cloned().collect()).unwrap();
        assert_ne!(s.fingerprint(), r.fingerprint());
        assert_eq!(s.fingerprint(), space().fingerprint());
    }

    #[test]
    fn serde_round_trip_rebuilds_index() {
        let s = space();
        let json = serde_json::to_string(&s).unwrap();
        let back: DomainSpace = serde_json::from_str(&json).unwrap();
        assert_eq!(back.id("wiki").unwrap(), DomainId(2));
    }
}

/// Which space a schedule, collection or policy works over, as written in configs: the
/// domains of some fields (`level = "domains"`, K-D) or one entry per field (`"fields"`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceSpec {
    /// `domains` (K-D: every domain of the fields) or `fields` (one entry per field).
    pub level: String,
    /// The fields included, in order (e.g. `["general", "math"]`): source field first.
    pub fields: Vec<String>,
}

impl SpaceSpec {
    /// Builds the space out of `known` (a corpus's full domain space).
    pub fn resolve(&self, known: &DomainSpace) -> Result<std::sync::Arc<DomainSpace>, CoreError> {
        let fields =
            self.fields.iter().map(|f| Field::new(f.clone())).collect::<Result<Vec<_>, _>>()?;
        if fields.is_empty() {
            return Err(CoreError::InvalidSpace("no fields listed".into()));
        }
        for f in &fields {
            if !known.fields().contains(f) {
                return Err(CoreError::InvalidSpace(format!(
                    "field `{f}` is not in the corpus (it has: {})",
                    known.fields().iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        // Keep the order the spec gives (source field first), not the corpus's.
        let mut domains = Vec::new();
        for f in &fields {
            domains.extend(known.domains().iter().filter(|d| &d.field == f).cloned());
        }
        let kd = DomainSpace::new(domains)?;
        match self.level.as_str() {
            "domains" => Ok(std::sync::Arc::new(kd)),
            "fields" => Ok(std::sync::Arc::new(kd.field_level())),
            other => {
                Err(CoreError::InvalidSpace(format!("level `{other}`: use `domains` or `fields`")))
            }
        }
    }
}
