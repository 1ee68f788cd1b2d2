//! Typed grants: what a remediation may touch, checked and compiled at load.
//!
//! The same types describe a manifest's `[capabilities]` and an operator's risk ceiling.
//! Matching a call against a grant is a pure function here; deciding a call (manifest and
//! ceiling, audit, action) happens only in `sandbox/<capability>.rs`.
//!
//! Never allowed, whatever a manifest or ceiling says (refused at load):
//! - exec: a relative program, a path with `.` or `..`, a shell, interpreter or launcher
//!   (`sh`, `bash`, `env`, `python3`, `sudo`, `xargs`, `find`, ...);
//! - fs: `/`, `/proc`, `/sys`, `/dev` or anything under them, relative paths, `..`;
//! - http: userinfo in a URL, a bare `*` host, schemes other than http, https and tcp;
//! - env: `LD_*` and `DYLD_*` (dynamic-loader injection), names that are not identifiers.

use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use regex::{Regex, RegexBuilder};
use toml::Spanned;

use super::error::{ManifestError, Origin};
use super::rate::RateLimit;
use super::schema::{RawCapabilities, RawExec, RawFs, RawHttp};
use super::secret_use::HttpAuth;

/// Longest argument or URL pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 512;
/// Most arguments one exec grant may declare.
pub const MAX_ARGS: usize = 32;
/// Compiled-regex size cap, so a pattern cannot blow up memory at load.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Program names that run arbitrary code given the right arguments; never granted.
const FORBIDDEN_PROGRAMS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "busybox", "env", "sudo", "su",
    "doas", "pkexec", "xargs", "find", "nohup", "setsid", "timeout", "nice", "ionice", "chroot",
    "strace", "gdb", "awk", "gawk", "mawk", "sed", "perl", "python", "ruby", "node", "php", "lua",
    "tclsh", "expect", "script", "ssh", "socat", "nc", "ncat", "vim", "vi", "less", "more",
];
/// Interpreter families matched by prefix (`python3.11`, `perl5.36`, `lua5.4`).
const FORBIDDEN_PROGRAM_PREFIXES: &[&str] = &["python", "perl", "ruby", "php", "lua", "node"];
/// File-system roots that are never granted, nor anything below them.
const FORBIDDEN_FS_ROOTS: &[&str] = &["/proc", "/sys", "/dev"];

/// Everything a manifest (or a ceiling) grants.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Programs and their argument patterns.
    pub exec: Vec<ExecGrant>,
    /// Methods and URL patterns.
    pub http: Vec<HttpGrant>,
    /// Roots and their access.
    pub fs: Vec<FsGrant>,
    /// Environment variable names.
    pub env: Vec<EnvGrant>,
}

/// One program with one anchored pattern per argument position.
#[derive(Debug, Clone)]
pub struct ExecGrant {
    /// Absolute path, compared exactly.
    pub program: PathBuf,
    /// Exactly this many arguments, each matching its pattern.
    pub args: Vec<ArgPattern>,
    /// A status command that changes nothing: the only kind of exec `plan` may run, when
    /// the ceiling's matching entry is read-only too.
    pub read_only: bool,
    /// The program may be a script an interpreter runs (the manifest and the ceiling must
    /// both say so).
    pub interpreted: bool,
    /// Variables the host sets for the program from secrets: (name, secret handle).
    pub secret_env: Vec<(String, String)>,
    /// At most this many calls per window.
    pub rate: Option<RateLimit>,
    /// Where it was declared.
    pub origin: Origin,
}

impl ExecGrant {
    /// True when `program` and every argument match, and the count is exact.
    pub fn matches(&self, program: &str, args: &[String]) -> bool {
        Path::new(program) == self.program
            && args.len() == self.args.len()
            && self
                .args
                .iter()
                .zip(args)
                .all(|(pattern, arg)| pattern.matches(arg))
    }

    /// `program pattern pattern ...`, for messages.
    pub fn describe(&self) -> String {
        let mut text = self.program.display().to_string();
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.source);
        }
        if self.read_only {
            text.push_str(" (read-only)");
        }
        text
    }
}

/// A regular expression matched against a whole argument (medic adds `^(?:` `)$`).
#[derive(Debug, Clone)]
pub struct ArgPattern {
    /// As written in the manifest; for a template (`"{service}"`), the parameter's pattern.
    pub source: String,
    regex: Regex,
    /// The parameter a template names: at run time the pattern narrows to its value.
    pub param: Option<String>,
}

impl ArgPattern {
    /// Compile `source`, anchored at both ends whatever it says.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source.len() > MAX_PATTERN_LEN {
            return Err(format!("pattern is longer than {MAX_PATTERN_LEN} bytes"));
        }
        // The pattern must be a regex on its own: `a)|(?:b` would otherwise close medic's
        // `^(?:...)$` and leave both ends open.
        regex_syntax::Parser::new()
            .parse(source)
            .map_err(|error| format!("not a valid regex: {error}"))?;
        let regex = RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|error| format!("not a valid regex: {error}"))?;
        Ok(ArgPattern {
            source: source.to_string(),
            regex,
            param: None,
        })
    }

    /// The pattern that accepts exactly `value`, and nothing else.
    pub fn exactly(value: &str) -> Self {
        let source = regex::escape(value);
        match RegexBuilder::new(&format!("^(?:{source})$"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
        {
            Ok(regex) => ArgPattern {
                source,
                regex,
                param: None,
            },
            // Too long to compile: a value no argument can equal here is one nothing matches.
            Err(_) => ArgPattern::nothing(),
        }
    }

    /// A pattern that accepts nothing: a template whose parameter has no value.
    pub fn nothing() -> Self {
        const NOTHING: &str = "[^\\s\\S]";
        ArgPattern {
            source: NOTHING.to_string(),
            regex: Regex::new(NOTHING).expect("a constant regex"),
            param: None,
        }
    }

    /// As a reviewer reads it: `{service}` for a template, else the pattern.
    pub fn shown(&self) -> String {
        match &self.param {
            Some(param) => format!("{{{param}}}"),
            None => self.source.clone(),
        }
    }

    /// True when the whole of `arg` matches.
    pub fn matches(&self, arg: &str) -> bool {
        self.regex.is_match(arg)
    }

    /// The one string this pattern matches, when it is a plain literal.
    pub fn literal(&self) -> Option<String> {
        let inner = self.source.strip_prefix('^').unwrap_or(&self.source);
        let inner = inner.strip_suffix('$').unwrap_or(inner);
        let plain = inner.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '/' | ':' | ',' | '@')
        });
        (plain && !inner.is_empty()).then(|| inner.to_string())
    }
}

/// One HTTP method with one URL pattern.
#[derive(Debug, Clone)]
pub struct HttpGrant {
    /// Upper-case method; `CONNECT` with a `tcp://` URL grants a TCP connect check.
    pub method: String,
    /// Scheme, host, port and path.
    pub url: UrlPattern,
    /// The authorisation the host adds from a secret.
    pub auth: Option<HttpAuth>,
    /// At most this many calls per window.
    pub rate: Option<RateLimit>,
    /// Where it was declared.
    pub origin: Origin,
}

/// A request as the host parsed it, for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http`, `https` or `tcp`.
    pub scheme: Scheme,
    /// The host, IP spellings already normalised.
    pub host: HostValue,
    /// The port, defaulted from the scheme.
    pub port: u16,
    /// The path, without query; `/` for tcp.
    pub path: String,
    /// Whether the request carries a query string (`?...`).
    pub has_query: bool,
}

/// A parsed host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostValue {
    /// An IP literal.
    Ip(IpAddr),
    /// A lower-case domain name without a trailing dot.
    Domain(String),
}

impl std::fmt::Display for HostValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostValue::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostValue::Ip(ip) => write!(f, "{ip}"),
            HostValue::Domain(name) => f.write_str(name),
        }
    }
}

impl HttpGrant {
    /// True when method, scheme, host, port and path all match.
    pub fn matches(&self, method: &str, target: &Target) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.url.matches(target)
    }
}

/// The schemes a grant can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
    /// A TCP connect check (method `CONNECT`).
    Tcp,
}

impl Scheme {
    /// The scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Tcp => "tcp",
        }
    }
}

/// `scheme://host[:port][/path]` with `*` for any port, `*.suffix` hosts, and `*` (one
/// segment) or `**` (anything) in the path.
#[derive(Debug, Clone)]
pub struct UrlPattern {
    /// As written.
    pub source: String,
    /// The scheme, exact.
    pub scheme: Scheme,
    /// The host pattern.
    pub host: HostPattern,
    /// `None` for any port.
    pub port: Option<u16>,
    /// `None` for tcp.
    pub path: Option<Regex>,
    /// Whether a query string is allowed (`?*` ends the pattern).
    pub query: bool,
}

/// A host in a URL pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this address.
    Ip(IpAddr),
    /// Exactly this name.
    Domain(String),
    /// `*.example.com`: any subdomain, not the name itself.
    Suffix(String),
}

impl HostPattern {
    /// True for `*.suffix` patterns.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, HostPattern::Suffix(_))
    }

    fn matches(&self, host: &HostValue) -> bool {
        match (self, host) {
            (HostPattern::Ip(want), HostValue::Ip(got)) => want == got,
            (HostPattern::Domain(want), HostValue::Domain(got)) => want == got,
            (HostPattern::Suffix(suffix), HostValue::Domain(got)) => {
                got.len() > suffix.len() + 1
                    && got.ends_with(suffix.as_str())
                    && got.as_bytes()[got.len() - suffix.len() - 1] == b'.'
            }
            _ => false,
        }
    }
}

impl UrlPattern {
    /// Parse a pattern; the message says what is wrong.
    pub fn parse(source: &str) -> Result<Self, String> {
        if source.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "URL pattern is longer than {MAX_PATTERN_LEN} bytes"
            ));
        }
        let (scheme, rest) = source
            .split_once("://")
            .ok_or_else(|| "expected `scheme://host[:port][/path]`".to_string())?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "tcp" => Scheme::Tcp,
            other => return Err(format!("scheme `{other}` is not one of http, https, tcp")),
        };
        let (authority, path) = match rest.find('/') {
            Some(index) => rest.split_at(index),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("userinfo (`user@`) is not allowed in a URL pattern".to_string());
        }
        let (path, query) = match path.split_once('?') {
            Some((path, "*")) => (path, true),
            Some(_) => {
                return Err(
                    "a URL pattern's query is `?*` (any query) or absent (no query)".to_string(),
                );
            }
            None => (path, false),
        };
        if authority.contains(['?', '#']) || path.contains('#') {
            return Err("a URL pattern has no fragment".to_string());
        }
        let (host, port) = split_host_port(authority)?;
        let host = parse_host_pattern(host)?;
        let port = match port {
            None if scheme == Scheme::Tcp => {
                return Err("a tcp pattern needs a port (or `*`)".to_string());
            }
            None => Some(if scheme == Scheme::Https { 443 } else { 80 }),
            Some("*") => None,
            Some(digits) => Some(
                digits
                    .parse::<u16>()
                    .map_err(|_| format!("port `{digits}` is not a number from 0 to 65535"))?,
            ),
        };
        let path = match scheme {
            Scheme::Tcp if !path.is_empty() => return Err("a tcp pattern has no path".to_string()),
            Scheme::Tcp => None,
            _ => Some(compile_path(if path.is_empty() { "/" } else { path })?),
        };
        Ok(UrlPattern {
            source: source.to_string(),
            scheme,
            host,
            port,
            path,
            query,
        })
    }

    /// True when `target` matches scheme, host, port and path, and carries a query only
    /// where the pattern allows one.
    pub fn matches(&self, target: &Target) -> bool {
        (self.query || !target.has_query)
            && self.scheme == target.scheme
            && self.host.matches(&target.host)
            && self.port.is_none_or(|port| port == target.port)
            && self
                .path
                .as_ref()
                .is_none_or(|path| path.is_match(&target.path))
    }

    /// True when the path pattern matches every path (`/**`).
    pub fn is_catch_all_path(&self) -> bool {
        self.path
            .as_ref()
            .is_some_and(|path| path.as_str() == "^/(?s:.*)$")
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed `[` in host")?;
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|port| (host, Some(port)))
                .ok_or_else(|| "expected `:port` after `]`".to_string()),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if host.is_empty() {
        return Err("the URL pattern has no host".to_string());
    }
    if host == "*" {
        return Err("a bare `*` host would allow any server; name the host".to_string());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip));
    }
    let lower = host.to_ascii_lowercase();
    let lower = lower.trim_end_matches('.');
    let (wildcard, name) = match lower.strip_prefix("*.") {
        Some(suffix) => (true, suffix),
        None => (false, lower),
    };
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return Err(format!(
            "host `{host}` is not an IP address, a name, or `*.name`"
        ));
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') || name.starts_with("0x") {
        return Err(format!(
            "host `{host}` looks like an IP address in an unusual spelling; write it in dotted decimal"
        ));
    }
    Ok(if wildcard {
        HostPattern::Suffix(name.to_string())
    } else {
        HostPattern::Domain(name.to_string())
    })
}

fn compile_path(path: &str) -> Result<Regex, String> {
    if !path.starts_with('/') {
        return Err(format!("path `{path}` must start with `/`"));
    }
    let mut regex = String::from("^");
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("**") {
            // Any byte at any depth, newline included, so that `**` accepts everything a
            // one-segment `*` (`[^/]*`) does and a ceiling's `/**` covers a manifest's `/a/*`.
            regex.push_str("(?s:.*)");
            rest = after;
        } else if let Some(after) = rest.strip_prefix('*') {
            regex.push_str("[^/]*");
            rest = after;
        } else {
            let next = rest.find('*').unwrap_or(rest.len());
            regex.push_str(&regex::escape(&rest[..next]));
            rest = &rest[next..];
        }
    }
    regex.push('$');
    Regex::new(&regex).map_err(|error| format!("path pattern `{path}`: {error}"))
}

/// One root directory and what may be done beneath it.
#[derive(Debug, Clone)]
pub struct FsGrant {
    /// Absolute, normalised; for a template (`"{dir}"`), the text `{dir}`, which no path
    /// is under.
    pub path: PathBuf,
    /// The parameter a template names: at run time the root becomes its value.
    pub param: Option<String>,
    /// Read, or read and write.
    pub access: Access,
    /// In a ceiling: a remediation's parameter may name this root itself (the operator
    /// dedicates it to one application, such as `/etc/nginx`). Otherwise a parameter must
    /// name a directory strictly inside a ceiling root (`catalog::Loaded::bound_with`).
    pub bind_whole: bool,
    /// Where it was declared.
    pub origin: Origin,
}

impl FsGrant {
    /// The part of `path` below this root, when `path` is the root or under it
    /// (component-wise, so `/var/logs` is not under `/var/log`).
    pub fn relative<'p>(&self, path: &'p Path) -> Option<&'p Path> {
        if self.param.is_some() {
            return None;
        }
        path.strip_prefix(&self.path).ok()
    }
}

/// What an fs grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Read files, list directories, read metadata.
    Read,
    /// Also write, create directories, rename and remove files.
    ReadWrite,
}

impl Access {
    /// `read` or `read-write`, as in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::ReadWrite => "read-write",
        }
    }
}

/// An environment variable name; in ceilings, `PREFIX_*` grants every name with that prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvGrant {
    /// The name, or the prefix when `prefix` is set.
    pub name: String,
    /// `NAME_*` form.
    pub prefix: bool,
}

impl EnvGrant {
    /// True when `name` is granted.
    pub fn matches(&self, name: &str) -> bool {
        if self.prefix {
            name.starts_with(&self.name)
        } else {
            name == self.name
        }
    }

    /// As written.
    pub fn describe(&self) -> String {
        if self.prefix {
            format!("{}*", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// `service` for the template `{service}`; `None` for any other text.
fn template_name(text: &str) -> Option<&str> {
    let name = text.strip_prefix('{')?.strip_suffix('}')?;
    super::params::is_param_name(name).then_some(name)
}

impl Grants {
    /// The grants with every template narrowed to its parameter's value: an argument
    /// `"{service}"` accepts exactly the bound service and nothing else; one whose
    /// parameter has no value accepts nothing.
    /// A root `"{dir}"` becomes the bound directory, which must be a root medic would
    /// grant as written (absolute, normal, not `/`, not under `/proc`, `/sys`, `/dev`); one
    /// whose parameter has no value grants nothing.
    pub fn narrowed(
        &self,
        values: &std::collections::BTreeMap<String, String>,
    ) -> Result<Grants, String> {
        let mut grants = self.clone();
        for exec in &mut grants.exec {
            for arg in &mut exec.args {
                if let Some(param) = arg.param.clone() {
                    *arg = match values.get(&param) {
                        Some(value) => ArgPattern::exactly(value),
                        None => ArgPattern::nothing(),
                    };
                }
            }
        }
        let mut fs = Vec::new();
        for grant in grants.fs {
            match &grant.param {
                None => fs.push(grant),
                Some(param) => {
                    // A root named by a parameter without a value grants nothing.
                    let Some(value) = values.get(param) else {
                        continue;
                    };
                    let path = PathBuf::from(value);
                    check_root_path(&path).map_err(|message| {
                        format!("{}: parameter `{param}` as a root: {message}", grant.origin)
                    })?;
                    fs.push(FsGrant {
                        path,
                        param: None,
                        ..grant
                    });
                }
            }
        }
        grants.fs = fs;
        Ok(grants)
    }
}

/// The file being parsed, to turn spans into line numbers.
pub(crate) struct SourceText<'a> {
    pub(crate) file: &'a Path,
    pub(crate) text: &'a str,
}

impl SourceText<'_> {
    pub(crate) fn origin(&self, field: impl Into<String>, span: Range<usize>) -> Origin {
        let start = span.start.min(self.text.len());
        let line = self
            .text
            .get(..start)
            .map(|before| before.matches('\n').count() + 1);
        Origin {
            file: self.file.to_path_buf(),
            field: field.into(),
            line,
        }
    }

    pub(crate) fn invalid<T>(
        &self,
        field: impl Into<String>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, ManifestError> {
        Err(ManifestError::Invalid {
            origin: self.origin(field, span),
            message: message.into(),
        })
    }
}

/// Check and compile a manifest's `[capabilities]`, whose argument patterns may be
/// templates (`"{service}"`) naming one of `params`.
pub(crate) fn parse_manifest_grants(
    raw: &RawCapabilities,
    src: &SourceText<'_>,
    params: &[super::params::ParamSpec],
) -> Result<Grants, ManifestError> {
    parse_grants_with(raw, src, "capabilities.", false, params)
}

/// Check and compile `[capabilities]`; `prefix` is the dotted path to it, for messages.
/// `ceiling` allows `NAME_*` env entries and refuses secret uses (`auth`, exec `env`),
/// which only a manifest makes.
pub(crate) fn parse_grants(
    raw: &RawCapabilities,
    src: &SourceText<'_>,
    prefix: &str,
    ceiling: bool,
) -> Result<Grants, ManifestError> {
    parse_grants_with(raw, src, prefix, ceiling, &[])
}

fn parse_grants_with(
    raw: &RawCapabilities,
    src: &SourceText<'_>,
    prefix: &str,
    ceiling: bool,
    params: &[super::params::ParamSpec],
) -> Result<Grants, ManifestError> {
    let mut grants = Grants::default();
    for (index, exec) in raw.exec.iter().enumerate() {
        let field = format!("{prefix}exec[{index}]");
        if let (true, Some(env)) = (ceiling, &exec.env) {
            let span = env
                .values()
                .next()
                .map_or_else(|| exec.program.span(), Spanned::span);
            return src.invalid(
                format!("{field}.env"),
                span,
                "a ceiling entry sets no variables; list the secrets a level may use in `secrets = [...]`",
            );
        }
        grants.exec.push(parse_exec(exec, src, &field, params)?);
    }
    for (index, http) in raw.http.iter().enumerate() {
        let field = format!("{prefix}http[{index}]");
        if ceiling && http.auth.is_some() {
            return src.invalid(
                format!("{field}.auth"),
                http.url.span(),
                "a ceiling entry sends no credentials; list the secrets a level may use in `secrets = [...]`",
            );
        }
        grants.http.push(parse_http(http, src, &field)?);
    }
    for (index, fs) in raw.fs.iter().enumerate() {
        let field = format!("{prefix}fs[{index}]");
        if let Some(bind_whole) = &fs.bind_whole
            && !ceiling
        {
            return src.invalid(
                format!("{field}.bind_whole"),
                bind_whole.span(),
                "`bind_whole` is the operator's to set, in a ceiling",
            );
        }
        grants.fs.push(parse_fs(fs, src, &field, params)?);
    }
    for (index, name) in raw.env.iter().enumerate() {
        grants.env.push(parse_env(
            name,
            src,
            &format!("{prefix}env[{index}]"),
            ceiling,
        )?);
    }
    Ok(grants)
}

fn parse_exec(
    raw: &RawExec,
    src: &SourceText<'_>,
    field: &str,
    params: &[super::params::ParamSpec],
) -> Result<ExecGrant, ManifestError> {
    let program_field = format!("{field}.program");
    let program = raw.program.get_ref();
    let span = raw.program.span();
    let path = Path::new(program);
    if !path.is_absolute() {
        return src.invalid(
            program_field,
            span,
            format!("must be an absolute path, got `{program}`"),
        );
    }
    if !is_normal(path) {
        return src.invalid(
            program_field,
            span,
            format!("must not contain `.`, `..` or a trailing `/`, got `{program}`"),
        );
    }
    let base = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    if FORBIDDEN_PROGRAMS.contains(&base)
        || FORBIDDEN_PROGRAM_PREFIXES
            .iter()
            .any(|prefix| base.starts_with(prefix))
    {
        return src.invalid(program_field, span, format!("`{program}` can run arbitrary code (a shell, interpreter or launcher) and is never granted"));
    }
    if raw.args.len() > MAX_ARGS {
        return src.invalid(
            format!("{field}.args"),
            span,
            format!("at most {MAX_ARGS} arguments"),
        );
    }
    let mut args = Vec::new();
    for (index, arg) in raw.args.iter().enumerate() {
        if let Some(name) = template_name(arg.get_ref()) {
            let Some(spec) = params.iter().find(|spec| spec.name == name) else {
                return src.invalid(
                    format!("{field}.args[{index}]"),
                    arg.span(),
                    format!(
                        "`{}` names no declared parameter; declare `[[params]] name = \"{name}\"`",
                        arg.get_ref()
                    ),
                );
            };
            args.push(ArgPattern {
                param: Some(name.to_string()),
                ..spec.pattern.clone()
            });
            continue;
        }
        match ArgPattern::parse(arg.get_ref()) {
            Ok(pattern) => args.push(pattern),
            Err(message) => {
                return src.invalid(
                    format!("{field}.args[{index}]"),
                    arg.span(),
                    format!("`{}`: {message}", arg.get_ref()),
                );
            }
        }
    }
    Ok(ExecGrant {
        program: path.to_path_buf(),
        args,
        read_only: raw.read_only.unwrap_or(false),
        interpreted: raw.interpreted.unwrap_or(false),
        secret_env: match &raw.env {
            Some(env) => super::secret_use::parse_secret_env(env, src, field)?,
            None => Vec::new(),
        },
        rate: raw
            .rate
            .as_ref()
            .map(|rate| super::rate::parse_rate(rate, src, field, Some(raw.args.len())))
            .transpose()?,
        origin: src.origin(field, span),
    })
}

fn parse_http(
    raw: &RawHttp,
    src: &SourceText<'_>,
    field: &str,
) -> Result<HttpGrant, ManifestError> {
    let method = raw.method.get_ref().to_ascii_uppercase();
    const METHODS: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT",
    ];
    if !METHODS.contains(&method.as_str()) {
        return src.invalid(
            format!("{field}.method"),
            raw.method.span(),
            format!(
                "`{}` is not one of {}",
                raw.method.get_ref(),
                METHODS.join(", ")
            ),
        );
    }
    let url = UrlPattern::parse(raw.url.get_ref()).or_else(|message| {
        src.invalid(
            format!("{field}.url"),
            raw.url.span(),
            format!("`{}`: {message}", raw.url.get_ref()),
        )
    })?;
    if (method == "CONNECT") != (url.scheme == Scheme::Tcp) {
        return src.invalid(
            format!("{field}.method"),
            raw.method.span(),
            "method `CONNECT` goes with a `tcp://` URL, and only with it",
        );
    }
    let auth = raw
        .auth
        .as_ref()
        .map(|auth| super::secret_use::parse_auth(auth, src, field))
        .transpose()?;
    let loopback = match &url.host {
        HostPattern::Ip(ip) => ip.is_loopback(),
        HostPattern::Domain(name) => name == "localhost",
        HostPattern::Suffix(_) => false,
    };
    // A credential goes to one named server: not to any port on loopback (anyone may listen
    // there), not to every name under a suffix.
    if auth.is_some() && (url.port.is_none() || matches!(url.host, HostPattern::Suffix(_))) {
        return src.invalid(
            format!("{field}.auth"),
            raw.url.span(),
            "credentials go to one host and one port: name both, without `*`",
        );
    }
    if auth.is_some() && (url.scheme == Scheme::Tcp || (url.scheme == Scheme::Http && !loopback)) {
        return src.invalid(
            format!("{field}.auth"),
            raw.url.span(),
            "credentials are sent only over https, or over http to a loopback address",
        );
    }
    Ok(HttpGrant {
        method,
        url,
        auth,
        rate: raw
            .rate
            .as_ref()
            .map(|rate| super::rate::parse_rate(rate, src, field, None))
            .transpose()?,
        origin: src.origin(field, raw.url.span()),
    })
}

fn parse_fs(
    raw: &RawFs,
    src: &SourceText<'_>,
    field: &str,
    params: &[super::params::ParamSpec],
) -> Result<FsGrant, ManifestError> {
    let path_text = raw.path.get_ref();
    let span = raw.path.span();
    let path_field = format!("{field}.path");
    let access = parse_access(raw, src, field)?;
    if let Some(name) = template_name(path_text) {
        if !params.iter().any(|spec| spec.name == name) {
            return src.invalid(
                path_field,
                span,
                format!("`{path_text}` names no declared parameter; declare `[[params]] name = \"{name}\"`"),
            );
        }
        return Ok(FsGrant {
            path: PathBuf::from(path_text),
            param: Some(name.to_string()),
            access,
            bind_whole: false,
            origin: src.origin(field, span),
        });
    }
    let path = Path::new(path_text);
    if let Err(message) = check_root_path(path) {
        return src.invalid(path_field, span, message);
    }
    Ok(FsGrant {
        path: path.to_path_buf(),
        param: None,
        access,
        bind_whole: raw
            .bind_whole
            .as_ref()
            .is_some_and(|value| *value.get_ref()),
        origin: src.origin(field, span),
    })
}

fn parse_access(raw: &RawFs, src: &SourceText<'_>, field: &str) -> Result<Access, ManifestError> {
    match raw.access.get_ref().as_str() {
        "read" => Ok(Access::Read),
        "read-write" => Ok(Access::ReadWrite),
        other => src.invalid(
            format!("{field}.access"),
            raw.access.span(),
            format!("`{other}` is not `read` or `read-write`"),
        ),
    }
}

/// What every granted root must be, written or bound from a parameter: absolute and
/// normal, not `/`, not under `/proc`, `/sys` or `/dev`.
pub(crate) fn check_root_path(path: &Path) -> Result<(), String> {
    let path_text = path.display();
    if !path.is_absolute() || !is_normal(path) {
        return Err(format!(
            "must be an absolute path without `.`, `..` or a trailing `/`, got `{path_text}`"
        ));
    }
    if path == Path::new("/") {
        return Err("`/` is never granted: name the directories".to_string());
    }
    if path
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .any(u8::is_ascii_control)
    {
        return Err(format!(
            "`{}` holds a control character",
            path.display().to_string().escape_debug()
        ));
    }
    if let Some(root) = FORBIDDEN_FS_ROOTS
        .iter()
        .find(|root| path.starts_with(root))
    {
        return Err(format!(
            "`{path_text}` is under `{root}`, which is never granted"
        ));
    }
    Ok(())
}

fn parse_env(
    raw: &Spanned<String>,
    src: &SourceText<'_>,
    field: &str,
    ceiling: bool,
) -> Result<EnvGrant, ManifestError> {
    let text = raw.get_ref();
    let (name, prefix) = match text.strip_suffix('*') {
        Some(stem) if ceiling => (stem, true),
        _ => (text.as_str(), false),
    };
    let identifier = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !(identifier || prefix && name.is_empty()) {
        return src.invalid(
            field,
            raw.span(),
            format!("`{text}` is not an environment variable name"),
        );
    }
    if name.starts_with("LD_")
        || name.starts_with("DYLD_")
        || (prefix && ("LD_".starts_with(name) || "DYLD_".starts_with(name)))
    {
        return src.invalid(field, raw.span(), format!("`{text}` would let a program load code (dynamic-loader variables are never granted)"));
    }
    Ok(EnvGrant {
        name: name.to_string(),
        prefix,
    })
}

/// Absolute paths made only of normal components (no `.`, `..`, no trailing slash).
fn is_normal(path: &Path) -> bool {
    let text = path.to_string_lossy();
    text == "/"
        || text.strip_prefix('/').is_some_and(|rest| {
            rest.split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        })
}
