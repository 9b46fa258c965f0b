//! Reads Android init `.rc` files the way init does, so host tools (the VM test tier, the packaging checks) start a service with the exact command line the device would use.
//!
//! Only the parts of the init language that decide a service's identity and command line are
//! modelled: the tokenizer (quotes, `\` escapes, line continuations, `#` comments) and sections
//! (`service`, `on`, `import`, `subcontext`). Options are kept as token lists for callers to read.
//! Property references such as `${ro.hardware}` are returned unexpanded: init expands them when it
//! starts the service, and a host has no property store to expand them from.

#![warn(missing_docs)]

use std::fmt;

/// A `service` section of an `.rc` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service name init knows it by (`vendor.graphics.allocator`).
    pub name: String,
    /// The program and its arguments, exactly as init will `execv` them.
    pub command: Vec<String>,
    /// The options that follow the service line, one token list per line (`["class", "hal"]`).
    pub options: Vec<Vec<String>>,
    /// 1-based line of the `service` keyword.
    pub line: usize,
}

impl Service {
    /// The program init executes: the first element of [`Service::command`].
    pub fn program(&self) -> &str {
        self.command.first().map_or("", String::as_str)
    }

    /// The arguments of every option line whose keyword is `keyword`, in file order.
    pub fn options_named<'a>(
        &'a self,
        keyword: &'a str,
    ) -> impl Iterator<Item = &'a [String]> + 'a {
        self.options
            .iter()
            .filter(move |tokens| tokens.first().is_some_and(|first| first == keyword))
            .map(|tokens| &tokens[1..])
    }

    /// The arguments of the first option line whose keyword is `keyword`.
    pub fn option(&self, keyword: &str) -> Option<&[String]> {
        self.options
            .iter()
            .find(|tokens| tokens.first().is_some_and(|first| first == keyword))
            .map(|tokens| &tokens[1..])
    }
}

/// Why an `.rc` text could not be read, or did not name the service asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcError {
    /// A `"` opened on this line is never closed.
    UnterminatedQuote {
        /// 1-based line of the opening quote's line.
        line: usize,
    },
    /// A command or option appears before any section keyword.
    OutsideSection {
        /// 1-based line.
        line: usize,
        /// The stray line's first token.
        keyword: String,
    },
    /// A `service` line lacks its name or its program.
    IncompleteService {
        /// 1-based line.
        line: usize,
    },
    /// Two `service` sections share a name (init rejects the second).
    DuplicateService {
        /// The repeated name.
        name: String,
        /// 1-based line of the second definition.
        line: usize,
    },
    /// The text defines no service at all.
    NoService,
    /// A single service was asked for but the text defines several.
    SeveralServices {
        /// Their names, in file order.
        names: Vec<String>,
    },
    /// No service has the requested name.
    NoSuchService {
        /// The name asked for.
        name: String,
        /// The names that do exist, in file order.
        available: Vec<String>,
    },
}

impl fmt::Display for RcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedQuote { line } => write!(f, "line {line}: unterminated quote"),
            Self::OutsideSection { line, keyword } => {
                write!(
                    f,
                    "line {line}: `{keyword}` is not inside a service or on section"
                )
            }
            Self::IncompleteService { line } => {
                write!(f, "line {line}: `service` needs a name and a program")
            }
            Self::DuplicateService { name, line } => {
                write!(f, "line {line}: service `{name}` is defined twice")
            }
            Self::NoService => write!(f, "no service is defined"),
            Self::SeveralServices { names } => {
                write!(
                    f,
                    "several services are defined ({}); name one",
                    names.join(", ")
                )
            }
            Self::NoSuchService { name, available } => write!(
                f,
                "no service `{name}` (defined: {})",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            ),
        }
    }
}

impl std::error::Error for RcError {}

/// One logical line: its 1-based starting line number and its tokens.
type Line = (usize, Vec<String>);

/// Splits `.rc` text into logical lines of tokens, following init's tokenizer: whitespace
/// separates tokens, `"` quotes (and may sit inside a token), `\n \r \t \\` are escapes, a `\`
/// before a newline continues the line, and `#` at the start of a token comments out the rest of
/// the line.
fn tokenize(text: &str) -> Result<Vec<Line>, RcError> {
    let mut lines = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    let mut token = String::new();
    let mut in_token = false;
    let mut quoted = false;
    let mut line_no = 1;
    let mut line_start = 1;
    let mut chars = text.chars().peekable();

    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                match chars.next() {
                    Some('n') => token.push('\n'),
                    Some('r') => token.push('\r'),
                    Some('t') => token.push('\t'),
                    Some('\n') => {
                        // Continuation: the logical line goes on; leading blanks are skipped.
                        line_no += 1;
                        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                            chars.next();
                        }
                        continue;
                    }
                    Some('\r') if chars.peek() == Some(&'\n') => {
                        chars.next();
                        line_no += 1;
                        continue;
                    }
                    Some(other) => token.push(other),
                    None => break,
                }
                in_token = true;
            }
            '"' => {
                quoted = !quoted;
                in_token = true;
            }
            '\n' if quoted => return Err(RcError::UnterminatedQuote { line: line_no }),
            '\n' => {
                if in_token {
                    tokens.push(std::mem::take(&mut token));
                    in_token = false;
                }
                if !tokens.is_empty() {
                    lines.push((line_start, std::mem::take(&mut tokens)));
                }
                line_no += 1;
                line_start = line_no;
            }
            c if quoted => token.push(c),
            ' ' | '\t' | '\r' => {
                if in_token {
                    tokens.push(std::mem::take(&mut token));
                    in_token = false;
                }
            }
            '#' if !in_token => {
                // Comment to the end of the line; the newline itself still ends the line.
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            c => {
                token.push(c);
                in_token = true;
            }
        }
    }
    if quoted {
        return Err(RcError::UnterminatedQuote { line: line_no });
    }
    if in_token {
        tokens.push(token);
    }
    if !tokens.is_empty() {
        lines.push((line_start, tokens));
    }
    Ok(lines)
}

/// Every `service` section in `rc_text`, in file order.
pub fn parse_services(rc_text: &str) -> Result<Vec<Service>, RcError> {
    let mut services: Vec<Service> = Vec::new();
    // Whether the current section is a service (its options are collected) or another section.
    let mut in_service = false;
    let mut in_section = false;

    for (line, tokens) in tokenize(rc_text)? {
        let keyword = tokens[0].as_str();
        match keyword {
            "service" => {
                let [_, name, program, args @ ..] = tokens.as_slice() else {
                    return Err(RcError::IncompleteService { line });
                };
                if services.iter().any(|s| &s.name == name) {
                    return Err(RcError::DuplicateService {
                        name: name.clone(),
                        line,
                    });
                }
                let mut command = vec![program.clone()];
                command.extend(args.iter().cloned());
                services.push(Service {
                    name: name.clone(),
                    command,
                    options: Vec::new(),
                    line,
                });
                in_service = true;
                in_section = true;
            }
            "on" | "subcontext" => {
                in_service = false;
                in_section = true;
            }
            // `import` is a one-line section: what follows it belongs to no section.
            "import" => {
                in_service = false;
                in_section = false;
            }
            _ if in_service => {
                if let Some(service) = services.last_mut() {
                    service.options.push(tokens);
                }
            }
            _ if in_section => {}
            _ => {
                return Err(RcError::OutsideSection {
                    line,
                    keyword: keyword.to_owned(),
                })
            }
        }
    }
    Ok(services)
}

/// The only service in `rc_text`: an error if there is none or more than one.
pub fn only_service(rc_text: &str) -> Result<Service, RcError> {
    let mut services = parse_services(rc_text)?;
    match services.len() {
        0 => Err(RcError::NoService),
        1 => Ok(services.remove(0)),
        _ => Err(RcError::SeveralServices {
            names: services.into_iter().map(|s| s.name).collect(),
        }),
    }
}

/// The service called `name` in `rc_text`.
pub fn find_service(rc_text: &str, name: &str) -> Result<Service, RcError> {
    let services = parse_services(rc_text)?;
    let available: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    services
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| RcError::NoSuchService {
            name: name.to_owned(),
            available,
        })
}

/// The command line (program first) of the only service in `rc_text`.
pub fn service_command_line(rc_text: &str) -> Result<Vec<String>, RcError> {
    only_service(rc_text).map(|s| s.command)
}

/// The name of the only service in `rc_text`.
pub fn service_name(rc_text: &str) -> Result<String, RcError> {
    only_service(rc_text).map(|s| s.name)
}

/// `args` as one line that a POSIX shell splits back into exactly `args`.
pub fn shell_quote(args: &[String]) -> String {
    fn is_plain(c: char) -> bool {
        c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
    }
    args.iter()
        .map(|arg| {
            if !arg.is_empty() && arg.chars().all(is_plain) {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_a_service_and_its_options() {
        let rc = "# header\nservice foo /vendor/bin/foo --flag value\n    class hal animation\n    user system # trailing\n";
        let service = only_service(rc).unwrap();
        assert_eq!(service.name, "foo");
        assert_eq!(
            service.command,
            strings(&["/vendor/bin/foo", "--flag", "value"])
        );
        assert_eq!(service.program(), "/vendor/bin/foo");
        assert_eq!(
            service.option("class"),
            Some(&strings(&["hal", "animation"])[..])
        );
        assert_eq!(service.option("user"), Some(&strings(&["system"])[..]));
        assert_eq!(service.line, 2);
        assert_eq!(
            service_command_line(rc).unwrap(),
            strings(&["/vendor/bin/foo", "--flag", "value"])
        );
        assert_eq!(service_name(rc).unwrap(), "foo");
    }

    #[test]
    fn quotes_escapes_and_continuations_follow_init() {
        let rc = "service q /bin/q \"two words\" a\"b c\"d tab\\tx \\\n    continued\n";
        assert_eq!(
            service_command_line(rc).unwrap(),
            strings(&["/bin/q", "two words", "ab cd", "tab\tx", "continued"])
        );
        // '#' inside a token is text, at a token's start it is a comment.
        let rc = "service h /bin/h a#b #comment\n";
        assert_eq!(
            service_command_line(rc).unwrap(),
            strings(&["/bin/h", "a#b"])
        );
    }

    #[test]
    fn crlf_and_missing_final_newline_are_accepted() {
        let rc = "service w /bin/w x\r\n    class hal";
        let service = only_service(rc).unwrap();
        assert_eq!(service.command, strings(&["/bin/w", "x"]));
        assert_eq!(service.option("class"), Some(&strings(&["hal"])[..]));
    }

    #[test]
    fn on_sections_end_a_service_and_their_commands_are_not_options() {
        let rc = "on boot\n    start a\nservice a /bin/a\n    class main\non property:x=1\n    restart a\nimport /etc/other.rc\n";
        let service = only_service(rc).unwrap();
        assert_eq!(service.options, vec![strings(&["class", "main"])]);
    }

    #[test]
    fn several_services_need_a_name() {
        let rc = "service a /bin/a\nservice b /bin/b 1\n";
        assert_eq!(
            service_command_line(rc),
            Err(RcError::SeveralServices {
                names: strings(&["a", "b"])
            })
        );
        assert_eq!(
            find_service(rc, "b").unwrap().command,
            strings(&["/bin/b", "1"])
        );
        assert_eq!(
            find_service(rc, "c"),
            Err(RcError::NoSuchService {
                name: "c".into(),
                available: strings(&["a", "b"])
            })
        );
    }

    #[test]
    fn malformed_files_are_errors_with_lines() {
        assert_eq!(service_command_line("# nothing\n"), Err(RcError::NoService));
        assert_eq!(
            parse_services("service a\n"),
            Err(RcError::IncompleteService { line: 1 })
        );
        assert_eq!(
            parse_services("\nservice a /bin/a \"open\n"),
            Err(RcError::UnterminatedQuote { line: 2 })
        );
        assert_eq!(
            parse_services("class hal\n"),
            Err(RcError::OutsideSection {
                line: 1,
                keyword: "class".into()
            })
        );
        assert_eq!(
            parse_services("service a /x\nservice a /y\n"),
            Err(RcError::DuplicateService {
                name: "a".into(),
                line: 2
            })
        );
        assert_eq!(
            parse_services("import /a.rc\n    class hal\n"),
            Err(RcError::OutsideSection {
                line: 2,
                keyword: "class".into()
            })
        );
    }

    #[test]
    fn shell_quoting_round_trips_awkward_arguments() {
        let args = strings(&[
            "/vendor/bin/hw/x",
            "plain-arg",
            "two words",
            "it's",
            "",
            "$HOME",
        ]);
        assert_eq!(
            shell_quote(&args),
            r"/vendor/bin/hw/x plain-arg 'two words' 'it'\''s' '' '$HOME'"
        );
    }
}
