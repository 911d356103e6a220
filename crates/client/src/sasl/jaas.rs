//! Parser for the `sasl.jaas.config` client property, Kafka's inline JAAS
//! syntax: `<LoginModule class> <flag> key=value ... ;`. It owns tokenizing
//! (quoted values with backslash escapes, `//` and `/* */` comments) and the
//! one-login-module rule of Kafka clients. It must never put an option value
//! into an error message: values are passwords.

use std::collections::BTreeMap;

use crate::secret::Secret;

/// Login module class of SASL/PLAIN.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
/// Login module class of SASL/SCRAM.
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// One parsed login module entry.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasEntry {
    /// The login module class name.
    pub login_module: String,
    /// `required`, `requisite`, `sufficient` or `optional` (lower case).
    pub flag: String,
    /// Options in order of appearance; every value is kept as a secret.
    pub options: BTreeMap<String, Secret>,
}

impl std::fmt::Debug for JaasEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasEntry")
            .field("login_module", &self.login_module)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl JaasEntry {
    /// The value of option `name`, if present.
    pub fn option(&self, name: &str) -> Option<&Secret> {
        self.options.get(name)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(word) => format!("'{word}'"),
        Token::Quoted(_) => "a quoted value".to_string(),
        Token::Equals => "'='".to_string(),
        Token::Semicolon => "';'".to_string(),
    }
}

/// Splits the text into tokens. Errors name positions and kinds, never text
/// from inside a value.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        match c {
            '=' => {
                chars.next();
                tokens.push(Token::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(Token::Semicolon);
            }
            '"' | '\'' => {
                chars.next();
                let mut value = String::new();
                let mut closed = false;
                while let Some(ch) = chars.next() {
                    if ch == c {
                        closed = true;
                        break;
                    }
                    if ch == '\\' {
                        match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => break,
                        }
                    } else {
                        value.push(ch);
                    }
                }
                if !closed {
                    return Err("a quoted value is not terminated".to_string());
                }
                tokens.push(Token::Quoted(value));
            }
            '/' => {
                chars.next();
                match chars.peek() {
                    Some('/') => {
                        for ch in chars.by_ref() {
                            if ch == '\n' {
                                break;
                            }
                        }
                    }
                    Some('*') => {
                        chars.next();
                        let mut previous = '\0';
                        let mut closed = false;
                        for ch in chars.by_ref() {
                            if previous == '*' && ch == '/' {
                                closed = true;
                                break;
                            }
                            previous = ch;
                        }
                        if !closed {
                            return Err("a /* comment is not terminated".to_string());
                        }
                    }
                    _ => {
                        // A lone '/' is part of a word (e.g. an unquoted path).
                        let mut word = String::from('/');
                        read_word(&mut chars, &mut word);
                        tokens.push(Token::Word(word));
                    }
                }
            }
            _ => {
                let mut word = String::new();
                read_word(&mut chars, &mut word);
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

fn read_word(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, word: &mut String) {
    while let Some(&ch) = chars.peek() {
        if ch.is_whitespace() || matches!(ch, '=' | ';' | '"' | '\'') {
            break;
        }
        word.push(ch);
        chars.next();
    }
}

/// Parses `sasl.jaas.config`. Exactly one login module is accepted, as in
/// Kafka's clients; the final `;` may be omitted.
pub fn parse(text: &str) -> Result<JaasEntry, String> {
    let tokens = tokenize(text)?;
    let mut entries = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while iter.peek().is_some() {
        let login_module = match iter.next() {
            Some(Token::Word(word)) => word,
            Some(other) => {
                return Err(format!(
                    "expected a login module class name, found {}",
                    describe(&other)
                ));
            }
            None => break,
        };
        let flag = match iter.next() {
            Some(Token::Word(word))
                if matches!(
                    word.to_ascii_lowercase().as_str(),
                    "required" | "requisite" | "sufficient" | "optional"
                ) =>
            {
                word.to_ascii_lowercase()
            }
            Some(_) => {
                // The token is not echoed: in a mangled entry it may be a value.
                return Err(format!(
                    "login module control flag (required, requisite, sufficient or optional) expected after {login_module}"
                ));
            }
            None => {
                return Err(format!(
                    "login module control flag not specified after {login_module}"
                ));
            }
        };
        let mut options = BTreeMap::new();
        loop {
            match iter.next() {
                None | Some(Token::Semicolon) => break,
                Some(Token::Word(name)) => {
                    match iter.next() {
                        Some(Token::Equals) => {}
                        // `name` is not echoed: an unquoted value with a space lands here.
                        _ => {
                            return Err(format!(
                                "expected name=value options in the {login_module} entry (quote values that contain spaces or ';')"
                            ));
                        }
                    }
                    let value = match iter.next() {
                        Some(Token::Word(value)) | Some(Token::Quoted(value)) => value,
                        _ => return Err(format!("option {name} has no value")),
                    };
                    if options.insert(name.clone(), Secret::new(value)).is_some() {
                        return Err(format!("option {name} is given more than once"));
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "expected an option name in the {login_module} entry, found {}",
                        describe(&other)
                    ));
                }
            }
        }
        entries.push(JaasEntry {
            login_module,
            flag,
            options,
        });
    }
    let count = entries.len();
    match entries.pop() {
        Some(entry) if count == 1 => Ok(entry),
        Some(_) => Err(format!(
            "contains {count} login modules, should be 1 module"
        )),
        None => Err("contains no login module".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(entry: &'a JaasEntry, name: &str) -> Option<&'a str> {
        entry.option(name).map(Secret::expose)
    }

    #[test]
    fn parses_plain_login_module() {
        let entry = parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";"#,
        );
        let Ok(entry) = entry else {
            panic!("parse failed: {entry:?}")
        };
        assert_eq!(entry.login_module, PLAIN_LOGIN_MODULE);
        assert_eq!(entry.flag, "required");
        assert_eq!(value(&entry, "username"), Some("alice"));
        assert_eq!(value(&entry, "password"), Some("alice-secret"));
    }

    #[test]
    fn parses_scram_with_escapes_comments_and_unquoted_values() {
        let text = "  org.apache.kafka.common.security.scram.ScramLoginModule REQUIRED\n \
                    /* the link user */ username=bob // trailing comment\n \
                    password=\"p\\\"a;s=s\\\\w'd\" tokenauth=\"true\" ;  ";
        let entry = parse(text);
        let Ok(entry) = entry else {
            panic!("parse failed: {entry:?}")
        };
        assert_eq!(entry.login_module, SCRAM_LOGIN_MODULE);
        assert_eq!(entry.flag, "required");
        assert_eq!(value(&entry, "username"), Some("bob"));
        assert_eq!(value(&entry, "password"), Some("p\"a;s=s\\w'd"));
        assert_eq!(value(&entry, "tokenauth"), Some("true"));
        let single = parse("x.Module optional user='o''");
        assert!(single.is_err());
        let single = parse("x.Module optional user='it is'");
        assert_eq!(
            single
                .ok()
                .and_then(|e| value(&e, "user").map(str::to_string)),
            Some("it is".to_string())
        );
    }

    #[test]
    fn errors_never_contain_values() {
        let cases = [
            r#"org.Module required username="u" password="s3cr3t""#,
            r#"org.Module required username="u" password="s3cr3t"; other.Module required a="s3cr3t";"#,
            r#"org.Module username="s3cr3t";"#,
            r#"org.Module required password "s3cr3t";"#,
            r#"org.Module required password="s3cr3t"#,
            r#"org.Module required password="s3cr3t" password="s3cr3t";"#,
            r#"org.Module required ="s3cr3t";"#,
            "org.Module required password=my s3cr3t;",
            "org.Module s3cr3t password=x;",
            "",
        ];
        for (i, text) in cases.iter().enumerate() {
            let result = parse(text);
            if i == 0 {
                assert!(result.is_ok(), "missing final ';' is accepted");
                continue;
            }
            match result {
                Ok(entry) => panic!("case {i} should fail, got {entry:?}"),
                Err(message) => {
                    assert!(!message.contains("s3cr3t"), "case {i} leaked: {message}")
                }
            }
        }
    }

    #[test]
    fn debug_lists_option_names_only() {
        let entry = parse(r#"a.B required username="u" password="s3cr3t";"#);
        let text = format!("{entry:?}");
        assert!(!text.contains("s3cr3t"));
        assert!(text.contains("password"));
    }
}
