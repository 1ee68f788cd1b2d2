//! How a manifest uses secrets: an http grant's `auth` (the host adds the header) and an
//! exec grant's `env` (the host sets the child's variable), both naming a handle
//! `secret:NAME` that the operator maps in `medic.toml`. The guest never holds the value.

use std::collections::BTreeMap;

use toml::Spanned;

use super::error::ManifestError;
use super::grant::SourceText;
use super::schema::{RawAuth, RawAuthTable};

/// How the host authorises a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer VALUE`.
    Bearer,
    /// `Authorization: Basic base64(USER:VALUE)`.
    Basic {
        /// The user name.
        user: String,
    },
    /// `NAME: VALUE`.
    Header(String),
}

/// An http grant's authorisation, from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAuth {
    /// The secret's handle.
    pub secret: String,
    /// How it is sent.
    pub scheme: AuthScheme,
}

impl HttpAuth {
    /// The header name the host sets (lower case).
    pub fn header_name(&self) -> String {
        match &self.scheme {
            AuthScheme::Bearer | AuthScheme::Basic { .. } => "authorization".to_string(),
            AuthScheme::Header(name) => name.to_ascii_lowercase(),
        }
    }

    /// The header to send for `value`.
    pub fn header(&self, value: &str) -> (String, String) {
        use base64::Engine as _;
        match &self.scheme {
            AuthScheme::Bearer => ("Authorization".to_string(), format!("Bearer {value}")),
            AuthScheme::Basic { user } => (
                "Authorization".to_string(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{value}"))
                ),
            ),
            AuthScheme::Header(name) => (name.clone(), value.to_string()),
        }
    }

    /// `bearer secret:NAME`, for reviewers.
    pub fn describe(&self) -> String {
        match &self.scheme {
            AuthScheme::Bearer => format!("bearer secret:{}", self.secret),
            AuthScheme::Basic { user } => format!("basic {user}:secret:{}", self.secret),
            AuthScheme::Header(name) => format!("header {name}: secret:{}", self.secret),
        }
    }
}

/// `NAME` of `secret:NAME`, when `text` is a handle.
fn handle(text: &str) -> Option<&str> {
    let name = text.strip_prefix("secret:")?;
    (!name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some(name)
}

fn parse_handle(
    text: &Spanned<String>,
    src: &SourceText<'_>,
    field: &str,
) -> Result<String, ManifestError> {
    handle(text.get_ref()).map(str::to_string).map_or_else(
        || {
            src.invalid(
                field,
                text.span(),
                format!(
                    "`{}` is not a secret handle; write `secret:NAME` and map NAME in medic.toml `[secrets]`",
                    text.get_ref()
                ),
            )
        },
        Ok,
    )
}

/// Parse an http grant's `auth`.
pub(crate) fn parse_auth(
    spanned: &Spanned<RawAuth>,
    src: &SourceText<'_>,
    field: &str,
) -> Result<HttpAuth, ManifestError> {
    let field = format!("{field}.auth");
    match spanned.get_ref() {
        RawAuth::Handle(text) => Ok(HttpAuth {
            secret: parse_handle(&Spanned::new(spanned.span(), text.clone()), src, &field)?,
            scheme: AuthScheme::Bearer,
        }),
        RawAuth::Table(RawAuthTable {
            secret,
            scheme,
            header,
            user,
        }) => {
            let secret = if secret.get_ref().starts_with("secret:") {
                parse_handle(secret, src, &format!("{field}.secret"))?
            } else {
                parse_handle(
                    &Spanned::new(secret.span(), format!("secret:{}", secret.get_ref())),
                    src,
                    &format!("{field}.secret"),
                )?
            };
            let scheme = match (
                scheme.as_ref().map(|scheme| scheme.get_ref().as_str()),
                header,
                user,
            ) {
                (None | Some("bearer"), None, None) => AuthScheme::Bearer,
                (Some("basic"), None, Some(user)) if !user.contains(':') => {
                    AuthScheme::Basic { user: user.clone() }
                }
                (Some("header"), Some(name), None) => {
                    let valid = !name.get_ref().is_empty()
                        && name
                            .get_ref()
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    if !valid || name.get_ref().eq_ignore_ascii_case("host") {
                        return src.invalid(
                            format!("{field}.header"),
                            name.span(),
                            format!("`{}` is not a header name medic may set", name.get_ref()),
                        );
                    }
                    AuthScheme::Header(name.get_ref().clone())
                }
                _ => {
                    let span = scheme
                        .as_ref()
                        .map_or_else(|| spanned.span(), Spanned::span);
                    return src.invalid(
                        format!("{field}.scheme"),
                        span,
                        "use `scheme = \"bearer\"`, `scheme = \"basic\"` with `user`, or `scheme = \"header\"` with `header`",
                    );
                }
            };
            Ok(HttpAuth { secret, scheme })
        }
    }
}

/// Parse an exec grant's `env`: variable name to secret handle.
pub(crate) fn parse_secret_env(
    raw: &BTreeMap<String, Spanned<String>>,
    src: &SourceText<'_>,
    field: &str,
) -> Result<Vec<(String, String)>, ManifestError> {
    let mut env = Vec::new();
    for (name, value) in raw {
        let entry = format!("{field}.env.{name}");
        let identifier = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !identifier || name.starts_with("LD_") || name.starts_with("DYLD_") {
            return src.invalid(
                entry,
                value.span(),
                format!("`{name}` is not a variable medic sets for a program"),
            );
        }
        env.push((name.clone(), parse_handle(value, src, &entry)?));
    }
    Ok(env)
}
