//! A manifest's declared parameters (`[[params]]`) and binding an incident's values to
//! them.
//!
//! A remediation reads only parameters it declares; each has an anchored pattern its value
//! must match, so what reaches a guest (and through a grant template such as an argument
//! `"{service}"`, what reaches a program) was checked by the host first. A value comes, in
//! this order, from the incident's `params`, from where the declaration says (`from =
//! "label:NAME"`, `"resource.id"`, `"evidence:GROUP"`), from the policy rule's `params`,
//! then from the declaration's `default`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

use super::ManifestError;
use super::grant::{ArgPattern, SourceText};
use crate::incident::Incident;

/// Most parameters a manifest declares.
const MAX_PARAMS: usize = 32;
/// Longest value medic binds.
pub const MAX_VALUE_LEN: usize = 64 << 10;

/// One `[[params]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawParam {
    /// Example: `name = "service"`
    pub(crate) name: Spanned<String>,
    /// Example: `description = "the supervised program to restart"`
    #[serde(default)]
    pub(crate) description: String,
    /// Example: `required = true` (default false)
    #[serde(default)]
    pub(crate) required: bool,
    /// Example: `default = "supervisorctl"`
    pub(crate) default: Option<Spanned<String>>,
    /// The whole value must match (medic anchors it). Example: `pattern = "[a-z][a-z0-9_-]{0,63}"`
    pub(crate) pattern: Spanned<String>,
    /// Example: `from = "resource.id"`, `from = "label:service"`, `from = "evidence:path"`
    pub(crate) from: Option<Spanned<String>>,
}

/// Where a value may come from besides the incident's own `params`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum ParamFrom {
    /// The incident's label of that name.
    Label(String),
    /// The incident's resource id.
    ResourceId,
    /// A named capture group of the diagnosis's evidence lines.
    Evidence(String),
}

impl std::fmt::Display for ParamFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamFrom::Label(name) => write!(f, "label:{name}"),
            ParamFrom::ResourceId => f.write_str("resource.id"),
            ParamFrom::Evidence(name) => write!(f, "evidence:{name}"),
        }
    }
}

/// A checked parameter declaration.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// snake_case name.
    pub name: String,
    /// One line for operators.
    pub description: String,
    /// A run without a value for it does not start.
    pub required: bool,
    /// Used when nothing else gives a value; matches `pattern`.
    pub default: Option<String>,
    /// The whole value must match.
    pub pattern: ArgPattern,
    /// Where a plan may take it from.
    pub from: Option<ParamFrom>,
}

/// Values a binding may draw on besides the incident.
#[derive(Debug, Clone, Default)]
pub struct BindSources<'a> {
    /// Named captures of the evidence lines, first capture of each name first.
    pub evidence: Option<&'a BTreeMap<String, String>>,
    /// The policy rule's `params`.
    pub policy: Option<&'a BTreeMap<String, String>>,
}

/// Where a bound value came from, for the audit and `medic plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// The incident's `params`.
    Incident,
    /// A label, the resource id or the evidence, as the declaration's `from` says.
    From,
    /// The policy rule.
    Policy,
    /// The declaration's default.
    Default,
}

/// One bound value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoundParam {
    /// The value, checked against the pattern.
    pub value: String,
    /// Where it came from.
    pub source: Provenance,
}

/// Why an incident's parameters do not fit a manifest. Each names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    /// The incident sets a parameter the manifest does not declare.
    #[error("`{remediation}` declares no parameter `{name}` (it declares: {declared})")]
    Undeclared {
        /// The remediation.
        remediation: String,
        /// The parameter.
        name: String,
        /// Its declared names, comma-separated, or `none`.
        declared: String,
    },
    /// A required parameter has no value from any source.
    #[error("`{remediation}` needs parameter `{name}` ({description}), and nothing gives it")]
    Missing {
        /// The remediation.
        remediation: String,
        /// The parameter.
        name: String,
        /// Its description.
        description: String,
    },
    /// A grant narrowed to its parameters' values is not one medic may grant: beyond the
    /// ceiling, over medic's own state, not a valid root.
    #[error("{0}")]
    Narrowed(String),
    /// A value does not match the declared pattern.
    #[error("parameter `{name}` = `{value}` (from {source_name}) does not match `{pattern}`")]
    Invalid {
        /// The parameter.
        name: String,
        /// The value, escaped and cut to 120 characters.
        value: String,
        /// `the incident`, `label:x`, ...
        source_name: String,
        /// The declared pattern.
        pattern: String,
    },
}

/// Check and compile `[[params]]`.
pub(crate) fn parse_params(
    raw: &[RawParam],
    src: &SourceText<'_>,
) -> Result<Vec<ParamSpec>, ManifestError> {
    if raw.len() > MAX_PARAMS {
        return src.invalid("params", 0..0, format!("at most {MAX_PARAMS} parameters"));
    }
    let mut specs: Vec<ParamSpec> = Vec::new();
    for (index, param) in raw.iter().enumerate() {
        let field = format!("params[{index}]");
        let name = param.name.get_ref();
        if !is_param_name(name) {
            return src.invalid(
                format!("{field}.name"),
                param.name.span(),
                format!("must be snake_case (a-z, 0-9, `_`, at most 63), got `{name}`"),
            );
        }
        if specs.iter().any(|spec| &spec.name == name) {
            return src.invalid(
                format!("{field}.name"),
                param.name.span(),
                format!("`{name}` is declared twice"),
            );
        }
        let pattern = ArgPattern::parse(param.pattern.get_ref()).or_else(|message| {
            src.invalid(
                format!("{field}.pattern"),
                param.pattern.span(),
                format!("`{}`: {message}", param.pattern.get_ref()),
            )
        })?;
        if let Some(default) = &param.default
            && !pattern.matches(default.get_ref())
        {
            return src.invalid(
                format!("{field}.default"),
                default.span(),
                format!(
                    "`{}` does not match the parameter's pattern `{}`",
                    default.get_ref(),
                    pattern.source
                ),
            );
        }
        let from = param
            .from
            .as_ref()
            .map(|from| {
                parse_from(from.get_ref()).ok_or(()).or_else(|()| {
                    src.invalid(
                        format!("{field}.from"),
                        from.span(),
                        format!(
                            "`{}` is not `resource.id`, `label:NAME` or `evidence:GROUP`",
                            from.get_ref()
                        ),
                    )
                })
            })
            .transpose()?;
        specs.push(ParamSpec {
            name: name.clone(),
            description: param.description.clone(),
            required: param.required,
            default: param.default.as_ref().map(|value| value.get_ref().clone()),
            pattern,
            from,
        });
    }
    Ok(specs)
}

/// `a-z` first, then `a-z`, `0-9`, `_`; at most 63 bytes.
pub(crate) fn is_param_name(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn parse_from(text: &str) -> Option<ParamFrom> {
    if text == "resource.id" {
        return Some(ParamFrom::ResourceId);
    }
    let (kind, name) = text.split_once(':')?;
    let label_name = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    match kind {
        "label" if label_name => Some(ParamFrom::Label(name.to_string())),
        "evidence" if is_capture_name(name) => Some(ParamFrom::Evidence(name.to_string())),
        _ => None,
    }
}

/// A regex capture-group name: a letter or `_`, then letters, digits and `_`.
fn is_capture_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Bind `incident`'s values (and the other `sources`) to `specs`: every incident
/// parameter must be declared; every value, whatever its source, must match its pattern;
/// every required parameter must have one. Nothing runs before this succeeds.
pub fn bind(
    remediation: &str,
    specs: &[ParamSpec],
    incident: &Incident,
    sources: &BindSources<'_>,
) -> Result<BTreeMap<String, BoundParam>, ParamError> {
    if let Some(name) = incident
        .params
        .keys()
        .find(|name| !specs.iter().any(|spec| &spec.name == *name))
    {
        let declared: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        return Err(ParamError::Undeclared {
            remediation: remediation.to_string(),
            name: crate::text::escape_control(name),
            declared: if declared.is_empty() {
                "none".to_string()
            } else {
                declared.join(", ")
            },
        });
    }
    let mut bound = BTreeMap::new();
    for spec in specs {
        let found = incident
            .params
            .get(&spec.name)
            .map(|value| {
                (
                    value.clone(),
                    Provenance::Incident,
                    "the incident".to_string(),
                )
            })
            .or_else(|| {
                let from = spec.from.as_ref()?;
                let value = match from {
                    ParamFrom::Label(label) => incident.labels.get(label).cloned(),
                    ParamFrom::ResourceId => Some(incident.resource.id.clone()),
                    ParamFrom::Evidence(group) => sources.evidence?.get(group).cloned(),
                }?;
                Some((value, Provenance::From, from.to_string()))
            })
            .or_else(|| {
                let value = sources.policy?.get(&spec.name)?;
                Some((value.clone(), Provenance::Policy, "the policy".to_string()))
            })
            .or_else(|| {
                let value = spec.default.as_ref()?;
                Some((
                    value.clone(),
                    Provenance::Default,
                    "the default".to_string(),
                ))
            });
        match found {
            Some((value, source, source_name)) => {
                if value.len() > MAX_VALUE_LEN || !spec.pattern.matches(&value) {
                    let shown: String = value.chars().take(120).collect();
                    return Err(ParamError::Invalid {
                        name: spec.name.clone(),
                        value: crate::text::escape_control(&shown),
                        source_name,
                        pattern: spec.pattern.source.clone(),
                    });
                }
                bound.insert(spec.name.clone(), BoundParam { value, source });
            }
            None if spec.required => {
                return Err(ParamError::Missing {
                    remediation: remediation.to_string(),
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                });
            }
            None => {}
        }
    }
    Ok(bound)
}

/// The plain values of a binding, as a guest's incident carries them.
pub fn values(bound: &BTreeMap<String, BoundParam>) -> BTreeMap<String, String> {
    bound
        .iter()
        .map(|(name, param)| (name.clone(), param.value.clone()))
        .collect()
}
