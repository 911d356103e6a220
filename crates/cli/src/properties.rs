//! Text formats for configuration on the command line and in files: Java
//! `.properties` files (`--command-config`, `--add-config-file`) and
//! `key=value,key2=[a,b]` lists (`--add-config`, and later the
//! `kafka-cluster-links`/`kafka-mirrors` `--config` flags). It owns parsing
//! only; it must never interpret what a key means.

use std::collections::BTreeMap;
use std::path::Path;

/// Why a properties text or a `key=value` list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    #[error("Could not read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("Invalid escape sequence in {context}: {detail}")]
    BadEscape { context: String, detail: String },
    #[error("Invalid entity config: all configs to be added must be in the format \"key=val\".")]
    NotKeyValue { entry: String },
}

/// Loads a Java properties file into a sorted map (later keys win).
pub fn load_properties_file(path: &Path) -> Result<BTreeMap<String, String>, PropertiesError> {
    let bytes = std::fs::read(path).map_err(|e| PropertiesError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    // Java reads properties files as ISO-8859-1; accept UTF-8 and fall back byte-wise.
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|b| char::from(*b)).collect(),
    };
    parse_properties(&text, &path.display().to_string())
}

/// Parses the text of a Java properties file: `#`/`!` comments, `=`, `:` or
/// whitespace separators, backslash line continuations and escapes
/// (`\t \n \r \f \uXXXX`, and `\x` for any other `x`).
pub fn parse_properties(
    text: &str,
    context: &str,
) -> Result<BTreeMap<String, String>, PropertiesError> {
    let mut props = BTreeMap::new();
    for logical in logical_lines(text) {
        let chars: Vec<char> = logical.chars().collect();
        let mut i = 0;
        // Key: up to an unescaped '=', ':' or whitespace.
        let mut key_raw = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                key_raw.push(c);
                if let Some(next) = chars.get(i + 1) {
                    key_raw.push(*next);
                }
                i += 2;
                continue;
            }
            if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\x0c' {
                break;
            }
            key_raw.push(c);
            i += 1;
        }
        // Separator: whitespace, then at most one '=' or ':', then whitespace.
        while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
            i += 1;
        }
        if i < chars.len() && (chars[i] == '=' || chars[i] == ':') {
            i += 1;
            while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\x0c') {
                i += 1;
            }
        }
        let value_raw: String = chars
            .get(i..)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        let key = unescape(&key_raw, context)?;
        let value = unescape(&value_raw, context)?;
        props.insert(key, value);
    }
    Ok(props)
}

/// Joins continuation lines and drops blank and comment lines.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current: Option<String> = None;
    for raw in text.split(['\n', '\r']) {
        let continuing = current.is_some();
        let line = raw.trim_start_matches([' ', '\t', '\x0c']);
        if !continuing && (line.is_empty() || line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        let trailing_backslashes = line.chars().rev().take_while(|c| *c == '\\').count();
        let continues = trailing_backslashes % 2 == 1;
        let content = if continues {
            &line[..line.len() - 1]
        } else {
            line
        };
        let mut joined = current.take().unwrap_or_default();
        joined.push_str(content);
        if continues {
            current = Some(joined);
        } else {
            lines.push(joined);
        }
    }
    if let Some(rest) = current {
        lines.push(rest);
    }
    lines
}

fn unescape(raw: &str, context: &str) -> Result<String, PropertiesError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4);
                match code.and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        return Err(PropertiesError::BadEscape {
                            context: context.to_string(),
                            detail: format!("\\u{hex}"),
                        });
                    }
                }
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}

/// Parses `k1=v1,k2=[a,b],k3=v3`: commas inside square brackets do not
/// separate entries, brackets are removed from values, keys and values are
/// trimmed, and an empty value (`k=`) is allowed. Order is preserved.
pub fn parse_config_assignments(text: &str) -> Result<Vec<(String, String)>, PropertiesError> {
    let mut assignments = Vec::new();
    for entry in split_outside_brackets(text, ',') {
        let parts = split_outside_brackets(&entry, '=');
        if parts.len() != 2 {
            return Err(PropertiesError::NotKeyValue { entry });
        }
        let key = parts[0].trim().to_string();
        let value: String = parts[1]
            .chars()
            .filter(|c| *c != '[' && *c != ']')
            .collect();
        assignments.push((key, value.trim().to_string()));
    }
    Ok(assignments)
}

/// Splits on `separator` where it is not inside `[...]`.
fn split_outside_brackets(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            c if c == separator && depth == 0 => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_separators_comments_and_continuations() {
        let text = "# comment\n! also comment\n\nbootstrap.servers=localhost:9092\nclient.id : tool\nrequest.timeout.ms 1500\nlong.value = a,\\\n    b\nempty=\nescaped\\=key=x\\ty\nunicode=\\u0041\n";
        let props = parse_properties(text, "test");
        let Ok(props) = props else {
            panic!("{props:?}")
        };
        assert_eq!(
            props.get("bootstrap.servers").map(String::as_str),
            Some("localhost:9092")
        );
        assert_eq!(props.get("client.id").map(String::as_str), Some("tool"));
        assert_eq!(
            props.get("request.timeout.ms").map(String::as_str),
            Some("1500")
        );
        assert_eq!(props.get("long.value").map(String::as_str), Some("a,b"));
        assert_eq!(props.get("empty").map(String::as_str), Some(""));
        assert_eq!(props.get("escaped=key").map(String::as_str), Some("x\ty"));
        assert_eq!(props.get("unicode").map(String::as_str), Some("A"));
        assert_eq!(props.len(), 7);
    }

    #[test]
    fn properties_bad_unicode_escape() {
        assert!(parse_properties("a=\\u00zz", "t").is_err());
    }

    #[test]
    fn config_assignments_with_brackets() {
        let parsed = parse_config_assignments("k1=v1,k2=[v1,v2,v2], k3 = v3,empty=");
        assert_eq!(
            parsed,
            Ok(vec![
                ("k1".to_string(), "v1".to_string()),
                ("k2".to_string(), "v1,v2,v2".to_string()),
                ("k3".to_string(), "v3".to_string()),
                ("empty".to_string(), String::new()),
            ])
        );
        assert!(parse_config_assignments("novalue").is_err());
        assert!(parse_config_assignments("a=b=c").is_err());
        assert_eq!(
            parse_config_assignments("listeners=[PLAINTEXT://a:1,SSL://b:2]"),
            Ok(vec![(
                "listeners".to_string(),
                "PLAINTEXT://a:1,SSL://b:2".to_string()
            )])
        );
    }
}
