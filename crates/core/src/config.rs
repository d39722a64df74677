//! TOML configs, read one way (DESIGN §3): built-in defaults if the type has them, the file's
//! document merged over them, `--set a.b=c` overrides, then serde, which refuses unknown keys
//! (`deny_unknown_fields`). Range checks and relative paths stay with each config type: run
//! configs (collect, compare, headroom) read paths from the working folder, corpus configs from
//! the config file's folder (README "Configs").

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::FileError;

/// Reads the TOML config at `path` into `T`, with `--set` `overrides` applied.
pub fn load_config<T: DeserializeOwned>(path: &Path, overrides: &[String]) -> Result<T, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::io(path, source))?;
    parse_config(path, &text, None, overrides)
}

/// Parses `text` (named `origin` in errors) into `T`: merged over `defaults` when given (a
/// document may then set any subset of the keys), with `--set` `overrides` applied last.
pub fn parse_config<T: DeserializeOwned>(
    origin: &Path,
    text: &str,
    defaults: Option<toml::Value>,
    overrides: &[String],
) -> Result<T, FileError> {
    let bad = |message: String| FileError::malformed(origin, message);
    let doc: toml::Value = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut value = match defaults {
        Some(mut d) => {
            merge(&mut d, doc);
            d
        }
        None => doc,
    };
    for o in overrides {
        apply_override(&mut value, o).map_err(bad)?;
    }
    value.try_into().map_err(|e: toml::de::Error| bad(e.to_string()))
}

/// Merges `top` over `base`: tables key by key, any other value replaced.
fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(b), toml::Value::Table(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Applies one `a.b.c=value` override to a TOML tree. The value is parsed as a TOML literal
/// (`3`, `0.5`, `true`, `"x"`, `[1, 2]`) and taken as a plain string if that fails. Unknown
/// keys are caught later by `deny_unknown_fields`.
fn apply_override(root: &mut toml::Value, spec: &str) -> Result<(), String> {
    let (key, raw) =
        spec.split_once('=').ok_or_else(|| format!("--set `{spec}`: expected key=value"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let table = node
            .as_table_mut()
            .ok_or_else(|| format!("--set `{key}`: `{}` is not a table", parts[..i].join(".")))?;
        if i + 1 == parts.len() {
            table.insert(part.to_string(), value);
            return Ok(());
        }
        node =
            table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    Err(format!("--set `{spec}`: empty key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        a: u32,
        inner: Inner,
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        x: f64,
        name: String,
    }

    fn defaults() -> toml::Value {
        toml::Value::try_from(Cfg { a: 1, inner: Inner { x: 0.5, name: "d".into() } }).unwrap()
    }

    #[test]
    fn a_document_sets_a_subset_over_the_defaults_then_overrides_win() {
        let origin = Path::new("c.toml");
        let c: Cfg = parse_config(origin, "[inner]\nx = 2.0\n", Some(defaults()), &[]).unwrap();
        assert_eq!(c, Cfg { a: 1, inner: Inner { x: 2.0, name: "d".into() } });
        let set = ["inner.name=hello".to_string(), "a=7".to_string()];
        let c: Cfg = parse_config(origin, "a = 3\n", Some(defaults()), &set).unwrap();
        assert_eq!(c, Cfg { a: 7, inner: Inner { x: 0.5, name: "hello".into() } });
    }

    #[test]
    fn errors_name_the_file_and_the_key() {
        let origin = Path::new("c.toml");
        let e = parse_config::<Cfg>(origin, "a = 1\n[inner]\nx = 1.0\nnaem = \"q\"\n", None, &[])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml: ") && e.contains("unknown field `naem`"), "{e}");
        let e = parse_config::<Cfg>(origin, "", Some(defaults()), &["a".into()]).unwrap_err();
        assert!(e.to_string().contains("--set `a`: expected key=value"), "{e}");
        let e = parse_config::<Cfg>(origin, "", Some(defaults()), &["a.b=1".into()]).unwrap_err();
        assert!(e.to_string().contains("`a` is not a table"), "{e}");
        let e = load_config::<Cfg>(Path::new("/nowhere/c.toml"), &[]).unwrap_err();
        assert!(matches!(e, FileError::Io { .. }), "{e}");
    }
}
