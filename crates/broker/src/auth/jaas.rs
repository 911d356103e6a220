//! Parsing of Kafka's `sasl.jaas.config` values:
//! `<LoginModuleClass> <flag> (<option>=<value>)*;` with quoted or bare
//! values and `//` or `/* */` comments, as Kafka's JaasConfig reads them.
//!
//! It owns the syntax only; which options mean what (PLAIN's `user_<name>`)
//! is the config module's business. Its errors must never quote an option
//! value: values are passwords.

use std::collections::BTreeMap;

use crate::config::Secret;

/// One login module entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasModule {
    pub class: String,
    pub flag: String,
    pub options: BTreeMap<String, Secret>,
}

/// Why a JAAS text was refused; never holds an option value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JaasError(String);

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Eq,
    Semi,
}

fn tokenize(text: &str) -> Result<Vec<Token>, JaasError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err(JaasError("Unterminated comment in JAAS config".into()));
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
        } else if c == '=' {
            out.push(Token::Eq);
            i += 1;
        } else if c == ';' {
            out.push(Token::Semi);
            i += 1;
        } else if c == '"' || c == '\'' {
            let quote = c;
            let mut value = String::new();
            i += 1;
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(JaasError("Unterminated quoted value in JAAS config".into()));
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    let Some(&esc) = chars.get(i) else {
                        return Err(JaasError("Unterminated quoted value in JAAS config".into()));
                    };
                    i += 1;
                    value.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    value.push(ch);
                }
            }
            out.push(Token::Quoted(value));
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '=' | ';' | '"' | '\'')
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        }
    }
    Ok(out)
}

const FLAGS: [&str; 4] = ["required", "requisite", "sufficient", "optional"];

/// Parses every login module of a JAAS text.
pub fn parse(text: &str) -> Result<Vec<JaasModule>, JaasError> {
    let tokens = tokenize(text)?;
    let mut modules = Vec::new();
    let mut it = tokens.into_iter();
    while let Some(tok) = it.next() {
        let Token::Word(class) = tok else {
            return Err(JaasError(
                "Login module not specified in JAAS config".into(),
            ));
        };
        let flag = match it.next() {
            Some(Token::Word(flag)) => flag,
            _ => {
                return Err(JaasError(
                    "Login module control flag not specified in JAAS config".into(),
                ));
            }
        };
        if !FLAGS.contains(&flag.to_ascii_lowercase().as_str()) {
            return Err(JaasError(format!(
                "Invalid login module control flag '{flag}' in JAAS config"
            )));
        }
        let mut options = BTreeMap::new();
        loop {
            match it.next() {
                Some(Token::Semi) => break,
                Some(Token::Word(key)) => {
                    if it.next() != Some(Token::Eq) {
                        return Err(JaasError(format!(
                            "Value not specified for key '{key}' in JAAS config"
                        )));
                    }
                    match it.next() {
                        Some(Token::Word(v) | Token::Quoted(v)) => {
                            options.insert(key, Secret::new(v));
                        }
                        _ => {
                            return Err(JaasError(format!(
                                "Value not specified for key '{key}' in JAAS config"
                            )));
                        }
                    }
                }
                None => {
                    return Err(JaasError(
                        "JAAS config entry not terminated by semi-colon".into(),
                    ));
                }
                Some(_) => {
                    return Err(JaasError(
                        "Unexpected token in JAAS config: expected option=value or ';'".into(),
                    ));
                }
            }
        }
        modules.push(JaasModule {
            class,
            flag: flag.to_ascii_lowercase(),
            options,
        });
    }
    Ok(modules)
}

/// Parses a `sasl.jaas.config` value, which must hold exactly one module.
pub fn parse_single(text: &str) -> Result<JaasModule, JaasError> {
    let mut modules = parse(text)?;
    if modules.len() != 1 {
        return Err(JaasError(format!(
            "JAAS config property contains {} login modules, should be 1 module",
            modules.len()
        )));
    }
    modules
        .pop()
        .ok_or_else(|| JaasError("JAAS config property contains no login module".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_plain_config() {
        let m = parse_single(
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"admin\" password=\"admin-secret\" /* comment */\n\
             user_admin=\"admin-secret\" user_alice='ali\\\"ce;=' user_bob=bob-pw;",
        )
        .unwrap();
        assert_eq!(
            m.class,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(m.flag, "required");
        assert_eq!(m.options["user_alice"].expose(), "ali\"ce;=");
        assert_eq!(m.options["user_bob"].expose(), "bob-pw");
        assert_eq!(m.options.len(), 5);
    }

    #[test]
    fn scram_module_without_options() {
        let m = parse_single("org.apache.kafka.common.security.scram.ScramLoginModule required;")
            .unwrap();
        assert!(m.options.is_empty());
    }

    #[test]
    fn errors_never_quote_values() {
        for (text, expected) in [
            ("a.B required user_x=\"hunter2\"", "semi-colon"),
            ("a.B", "control flag not specified"),
            ("a.B maybe;", "Invalid login module control flag 'maybe'"),
            (
                "a.B required user_x;",
                "Value not specified for key 'user_x'",
            ),
            ("a.B required user_x=\"hunter2", "Unterminated"),
            ("a.B required; c.D required;", "contains 2 login modules"),
            ("", "contains 0 login modules"),
            ("= required;", "Login module not specified"),
        ] {
            let e = parse_single(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
            assert!(!e.contains("hunter2"));
        }
    }
}
