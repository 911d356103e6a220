//! A line-by-line check of the OpenMetrics text the scrape writes, so a test
//! fails on an exposition a Prometheus server would refuse: every family has
//! `# HELP` and `# TYPE` before its samples and appears once, names and label
//! names are valid, every sample belongs to the family above it and has a
//! number for a value, and the text ends with `# EOF`. Test code only.

use std::collections::HashSet;

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The suffixes a sample of a family of `kind` may add to the family name.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_count", "_sum", "_created"],
        "info" => &["_info"],
        _ => &[""],
    }
}

/// Checks the labels part `{a="x",b="y"}` (without braces).
fn check_labels(labels: &str, line: &str) {
    let mut rest = labels;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label in {line}"));
        assert!(is_label_name(name), "bad label name {name:?} in {line}");
        // The value runs to the first unescaped quote.
        let bytes = after.as_bytes();
        let mut i = 0;
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        assert!(i < bytes.len(), "unterminated label value in {line}");
        rest = &after[i + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// Panics with the offending line if `text` is not valid OpenMetrics text.
pub fn check(text: &str) {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    let mut seen: HashSet<String> = HashSet::new();
    // The family being read: (name, type, help seen).
    let mut family: Option<(String, String, bool)> = None;
    let lines: Vec<&str> = text.lines().collect();
    let (last, body) = lines.split_last().unwrap_or_else(|| panic!("empty text"));
    assert_eq!(*last, "# EOF");
    for line in body {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let keyword = parts.next().unwrap_or_default();
            let name = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default();
            assert!(is_metric_name(name), "bad family name in {line}");
            match keyword {
                "HELP" => {
                    assert!(seen.insert(name.to_string()), "family {name} repeated");
                    assert!(!value.is_empty(), "empty help in {line}");
                    family = Some((name.to_string(), String::new(), true));
                }
                "TYPE" => {
                    let Some((current, kind, _)) = family.as_mut() else {
                        panic!("TYPE before HELP: {line}");
                    };
                    assert_eq!(current, name, "TYPE of another family: {line}");
                    assert!(
                        ["counter", "gauge", "histogram", "info", "unknown"].contains(&value),
                        "bad type in {line}"
                    );
                    *kind = value.to_string();
                }
                "UNIT" => {
                    let Some((current, _, _)) = family.as_ref() else {
                        panic!("UNIT outside a family: {line}");
                    };
                    assert_eq!(current, name, "UNIT of another family: {line}");
                    assert!(
                        name.ends_with(&format!("_{value}")),
                        "unit not in name: {line}"
                    );
                }
                _ => panic!("unknown comment {line}"),
            }
            continue;
        }
        let Some((current, kind, true)) = family.as_ref() else {
            panic!("sample outside a family: {line}");
        };
        assert!(!kind.is_empty(), "sample before TYPE: {line}");
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in {line}"));
        let name = match series.split_once('{') {
            Some((name, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line}"));
                check_labels(labels, line);
                name
            }
            None => series,
        };
        assert!(is_metric_name(name), "bad sample name in {line}");
        assert!(
            suffixes(kind)
                .iter()
                .any(|s| name == format!("{current}{s}")),
            "sample {name} does not belong to family {current} ({kind})"
        );
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "bad value in {line}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_a_good_exposition() {
        check(
            "# HELP a_b Help.\n# TYPE a_b counter\na_b_total{x=\"1\",y=\"q\\\"z\"} 3\n\
             # HELP t_seconds Time.\n# TYPE t_seconds histogram\n# UNIT t_seconds seconds\n\
             t_seconds_bucket{le=\"+Inf\"} 1\nt_seconds_sum 0.5\nt_seconds_count 1\n# EOF\n",
        );
    }

    #[test]
    #[should_panic(expected = "repeated")]
    fn refuses_a_repeated_family() {
        check("# HELP a A.\n# TYPE a gauge\na 1\n# HELP a A.\n# TYPE a gauge\na 2\n# EOF\n");
    }

    #[test]
    #[should_panic(expected = "does not belong")]
    fn refuses_a_stray_sample() {
        check("# HELP a A.\n# TYPE a gauge\nb 1\n# EOF\n");
    }

    #[test]
    #[should_panic(expected = "bad family name")]
    fn refuses_a_bad_name() {
        check("# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n# EOF\n");
    }
}
