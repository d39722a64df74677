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

/// Joins the corpus domains a grouped entry merges: `a+b+c` (see [`SpaceSpec::groups`]).
pub const GROUP_SEPARATOR: char = '+';

impl Domain {
    /// Validates the name and builds a domain.
    pub fn new(name: impl Into<String>, field: Field) -> Result<Self, CoreError> {
        let name = name.into();
        validate_name("domain", &name)?;
        Ok(Domain { name, field })
    }

    /// Builds a space's entry: a domain, or a grouped entry (names joined with
    /// [`GROUP_SEPARATOR`]) as a run's records name it. Corpus domains use [`Domain::new`].
    pub fn entry(name: impl Into<String>, field: Field) -> Result<Self, CoreError> {
        let name = name.into();
        validate_entry_name(&name)?;
        Ok(Domain { name, field })
    }

    /// One entry standing for several corpus domains of one field, named by its members joined
    /// with [`GROUP_SEPARATOR`] (so every record of a run names what the entry held).
    pub fn group(members: &[String], field: Field) -> Result<Self, CoreError> {
        for m in members {
            validate_name("domain", m)?;
        }
        Domain::entry(members.join(&GROUP_SEPARATOR.to_string()), field)
    }
}

/// Checks an entry name: a domain name, or domain names joined with [`GROUP_SEPARATOR`].
fn validate_entry_name(name: &str) -> Result<(), CoreError> {
    if !name.contains(GROUP_SEPARATOR) {
        return validate_name("domain", name);
    }
    let parts: Vec<&str> = name.split(GROUP_SEPARATOR).collect();
    for (i, part) in parts.iter().enumerate() {
        validate_name("domain", part)?;
        if parts[..i].contains(part) {
            return Err(CoreError::InvalidSpace(format!("entry `{name}` names `{part}` twice")));
        }
    }
    if name.len() > MAX_ENTRY_NAME {
        return Err(CoreError::InvalidSpace(format!(
            "entry `{name}` is {} bytes, over {MAX_ENTRY_NAME}: merge fewer or shorter-named domains",
            name.len()
        )));
    }
    Ok(())
}

/// Longest grouped entry name: names end up in file names (plans, per-entry runs).
const MAX_ENTRY_NAME: usize = 200;

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
        // Every corpus domain a name holds (itself, or a group's members) stands in one entry.
        let mut held: HashMap<&str, &str> = HashMap::new();
        for d in &domains {
            for part in d.name.split(GROUP_SEPARATOR) {
                if let Some(other) = held.insert(part, &d.name) {
                    if other != d.name {
                        return Err(CoreError::InvalidSpace(format!(
                            "entries `{other}` and `{}` both hold domain `{part}`",
                            d.name
                        )));
                    }
                }
            }
        }
        for (i, d) in domains.iter().enumerate() {
            validate_entry_name(&d.name)?;
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

    /// This space with each of `groups` (names of its domains, all of one field) merged into one
    /// entry named by its members in the space's order joined with [`GROUP_SEPARATOR`], placed
    /// where its first member was; the other domains stay as they are.
    pub fn grouped(&self, groups: &[Vec<String>]) -> Result<DomainSpace, CoreError> {
        if groups.is_empty() {
            return Err(CoreError::InvalidSpace(
                "level `groups` needs `groups`: lists of domains to merge, e.g. [[\"a\", \"b\"]]"
                    .into(),
            ));
        }
        // The group each domain belongs to.
        let mut group_of: Vec<Option<usize>> = vec![None; self.len()];
        for (g, members) in groups.iter().enumerate() {
            if members.is_empty() {
                return Err(CoreError::InvalidSpace(format!("group {} is empty", g + 1)));
            }
            for m in members {
                let i = self.id(m)?.index();
                match group_of[i] {
                    Some(other) if other == g => {
                        return Err(CoreError::InvalidSpace(format!(
                            "domain `{m}` is listed twice in group {}",
                            g + 1
                        )))
                    }
                    Some(other) => {
                        return Err(CoreError::InvalidSpace(format!(
                            "domain `{m}` is in group {} and group {}: a domain joins one group",
                            other + 1,
                            g + 1
                        )))
                    }
                    None => {}
                }
                group_of[i] = Some(g);
            }
            let first = &self.domains[self.id(&members[0])?.index()].field;
            if let Some(m) =
                members.iter().find(|m| &self.domains[self.index[*m].index()].field != first)
            {
                return Err(CoreError::InvalidSpace(format!(
                    "group {} mixes fields (`{}` is {first}, `{m}` is {}): a group lies within one field",
                    g + 1,
                    members[0],
                    self.domains[self.index[m].index()].field
                )));
            }
        }
        // Members named in the space's order, so a group's name does not depend on how the
        // config listed it.
        let members_of = |g: usize| -> Vec<String> {
            self.domains
                .iter()
                .zip(&group_of)
                .filter(|(_, x)| **x == Some(g))
                .map(|(d, _)| d.name.clone())
                .collect()
        };
        let mut out = Vec::new();
        let mut placed = vec![false; groups.len()];
        for (d, g) in self.domains.iter().zip(&group_of) {
            match g {
                None => out.push(d.clone()),
                Some(g) if !placed[*g] => {
                    placed[*g] = true;
                    out.push(Domain::group(&members_of(*g), d.field.clone())?);
                }
                Some(_) => {}
            }
        }
        DomainSpace::new(out)
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
    fn groups_merge_domains_where_their_first_member_was() {
        let g = Field::new("general").unwrap();
        let s = DomainSpace::new(vec![
            Domain::new("brown", g.clone()).unwrap(),
            Domain::new("algebra", Field::new("math").unwrap()).unwrap(),
            Domain::new("wiki", g.clone()).unwrap(),
            Domain::new("news", g).unwrap(),
        ])
        .unwrap();
        let grouped = s.grouped(&[vec!["news".into(), "brown".into()]]).unwrap();
        // Named in the space's order, however the group was listed.
        assert_eq!(grouped.names().collect::<Vec<_>>(), ["brown+news", "algebra", "wiki"]);
        assert_eq!(grouped.domain(DomainId(0)).field.as_str(), "general");
        // Round trip through JSON keeps the group's name valid.
        let back: DomainSpace =
            serde_json::from_str(&serde_json::to_string(&grouped).unwrap()).unwrap();
        assert_eq!(back.fingerprint(), grouped.fingerprint());
        let err = |groups: &[&[&str]]| {
            let groups: Vec<Vec<String>> =
                groups.iter().map(|g| g.iter().map(|d| d.to_string()).collect()).collect();
            s.grouped(&groups).unwrap_err().to_string()
        };
        assert!(err(&[&["brown", "algebra"]]).contains("mixes fields"));
        assert!(err(&[&["brown", "wiki"], &["wiki"]]).contains("`wiki` is in group 1 and group 2"));
        assert!(err(&[&["brown", "code"]]).contains("unknown domain `code`"));
        assert!(err(&[&[]]).contains("group 1 is empty"));
        assert!(err(&[&["wiki", "brown", "wiki"]]).contains("`wiki` is listed twice in group 1"));
        // Entries read back from records: no repeated member, no domain held twice, no empty
        // part, no overlong name.
        let entry = |n: &str| Domain::entry(n, Field::new("general").unwrap());
        assert!(entry("a+b").is_ok());
        for bad in ["a+a", "a++b", "+a", "a+", "a+B"] {
            assert!(entry(bad).is_err(), "{bad}");
        }
        let long = (0..20).map(|i| format!("domain_number_{i}")).collect::<Vec<_>>().join("+");
        assert!(entry(&long).unwrap_err().to_string().contains("merge fewer"));
        let overlap = DomainSpace::new(vec![entry("a+b").unwrap(), entry("b").unwrap()]);
        assert!(overlap.unwrap_err().to_string().contains("both hold domain `b`"));
        assert!(err(&[]).contains("needs `groups`"));
    }

    #[test]
    fn space_spec_groups_need_level_groups() {
        let known = space();
        let spec = |level: &str, groups: Vec<Vec<String>>| SpaceSpec {
            level: level.into(),
            fields: vec!["general".into(), "math".into()],
            groups,
        };
        let merged = spec("groups", vec![vec!["brown".into(), "wiki".into()]]).resolve(&known);
        assert_eq!(merged.unwrap().names().collect::<Vec<_>>(), ["brown+wiki", "algebra"]);
        let err = spec("domains", vec![vec!["brown".into()]]).resolve(&known).unwrap_err();
        assert!(err.to_string().contains("set level = \"groups\""), "{err}");
        // Old configs (no `groups` key) read and write as before.
        let toml = "level = \"domains\"\nfields = [\"general\"]\n";
        let parsed: SpaceSpec = toml::from_str(toml).unwrap();
        assert!(parsed.groups.is_empty());
        assert!(!serde_json::to_string(&parsed).unwrap().contains("groups"));
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
/// domains of some fields (`level = "domains"`, K-D), one entry per field (`"fields"`), or the
/// domains with some of them merged into one entry each (`"groups"`, a re-grouped space).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceSpec {
    /// `domains` (K-D: every domain of the fields), `fields` (one entry per field) or `groups`.
    pub level: String,
    /// The fields included, in order (e.g. `["general", "math"]`): source field first.
    pub fields: Vec<String>,
    /// With `level = "groups"`: lists of corpus domains of one field, each merged into one
    /// entry named by its members in the space's order joined with `+` (`"a+b"`), placed
    /// where its first member was; every other domain of the fields stays an entry of its own. Within an entry the
    /// sampler reads each member in proportion to its training tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Vec<String>>,
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
        if self.level != "groups" && !self.groups.is_empty() {
            return Err(CoreError::InvalidSpace(format!(
                "`groups` is given with level `{}`: set level = \"groups\" to merge domains",
                self.level
            )));
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
            "groups" => Ok(std::sync::Arc::new(kd.grouped(&self.groups)?)),
            other => Err(CoreError::InvalidSpace(format!(
                "level `{other}`: use `domains`, `fields` or `groups`"
            ))),
        }
    }
}
