//! `--set a.b=c` overrides of TOML configs (DESIGN §3).

/// Applies one `a.b.c=value` override to a TOML tree. The value is parsed as a TOML literal
/// (`3`, `0.5`, `true`, `"x"`, `[1, 2]`) and taken as a plain string if that fails. Unknown
/// keys are caught later by `deny_unknown_fields`.
pub fn apply_override(root: &mut toml::Value, spec: &str) -> Result<(), String> {
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
