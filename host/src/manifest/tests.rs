//! Manifest parsing, grants and ceilings: tables of cases, and properties that hold for
//! any input.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::grant::{ArgPattern, HostValue, Scheme, Target, UrlPattern};
use super::*;
use crate::config::parse_config;

const VALID: &str = r#"
name = "restart-service"
version = "0.1.0"
description = "Restart a service"
risk = "medium"
component = "restart_service.wasm"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[[handles]]
resource_kind = "service"
[[capabilities.exec]]
program = "/usr/bin/supervisorctl"
args = ["restart", "^[a-z][a-z0-9_-]{0,63}$"]
[[capabilities.http]]
method = "GET"
url = "http://127.0.0.1:*/health"
[[capabilities.fs]]
path = "/var/log/app"
access = "read"
[limits]
timeout = "30s"
memory = "64MiB"
"#;

fn parse(text: &str) -> Result<Manifest, String> {
    parse_manifest(text, Path::new("r.toml")).map_err(|error| error.to_string())
}

#[test]
fn manifest_parses_into_typed_grants() {
    let manifest = parse(VALID).unwrap();
    assert_eq!(manifest.risk, Risk::Medium);
    assert_eq!(
        manifest.grants.exec[0].program,
        Path::new("/usr/bin/supervisorctl")
    );
    assert!(
        manifest.grants.exec[0]
            .matches("/usr/bin/supervisorctl", &["restart".into(), "web".into()])
    );
    assert_eq!(manifest.grants.fs[0].access, Access::Read);
    assert_eq!(manifest.limits.memory, 64 << 20);
    assert_eq!(manifest.grants.exec[0].origin.line, Some(11));
}

#[test]
fn manifest_errors_name_field_and_line() {
    let cases = [
        (
            "risk = \"medium\"",
            "risk = \"extreme\"",
            "r.toml:5: `risk`: must be `low`, `medium` or `high`, got `extreme`",
        ),
        (
            "name = \"restart-service\"",
            "name = \"Restart Service\"",
            "r.toml:2: `name`: must be kebab-case",
        ),
        (
            "program = \"/usr/bin/supervisorctl\"",
            "program = \"/usr/bin/python3.11\"",
            "r.toml:11: `capabilities.exec[0].program`: `/usr/bin/python3.11` can run arbitrary code",
        ),
        (
            "url = \"http://127.0.0.1:*/health\"",
            "url = \"http://0x7f000001/\"",
            "looks like an IP address in an unusual spelling",
        ),
        (
            "url = \"http://127.0.0.1:*/health\"",
            "url = \"http://127.0.0.1:99999/\"",
            "port `99999` is not a number",
        ),
        (
            "method = \"GET\"",
            "method = \"CONNECT\"",
            "method `CONNECT` goes with a `tcp://` URL",
        ),
        (
            "access = \"read\"",
            "access = \"write\"",
            "`capabilities.fs[0].access`: `write` is not `read` or `read-write`",
        ),
        (
            "memory = \"64MiB\"",
            "memory = \"64 potatoes\"",
            "`limits.memory`: `64 potatoes` is not a size",
        ),
        (
            "timeout = \"30s\"",
            "timeout = \"2h\"",
            "`limits.timeout`: must be more than 0 and at most 1h",
        ),
        (
            "component = \"restart_service.wasm\"",
            "component = \"../../bin/x.wasm\"",
            "`component`: must be a relative `.wasm` path",
        ),
    ];
    for (from, to, expected) in cases {
        let error = parse(&VALID.replace(from, to)).unwrap_err();
        assert!(
            error.contains(expected),
            "`{to}`: expected `{expected}` in `{error}`"
        );
    }
}

#[test]
fn url_patterns_match_scheme_host_port_and_path() {
    let target = |scheme, host: &str, port, path: &str| Target {
        scheme,
        host: host
            .parse()
            .map(HostValue::Ip)
            .unwrap_or_else(|_| HostValue::Domain(host.to_string())),
        port,
        path: path.to_string(),
        has_query: false,
    };
    let pattern = UrlPattern::parse("https://*.example.com/api/*/status").unwrap();
    assert!(pattern.matches(&target(
        Scheme::Https,
        "a.example.com",
        443,
        "/api/v1/status"
    )));
    assert!(
        !pattern.matches(&target(Scheme::Https, "example.com", 443, "/api/v1/status")),
        "the bare suffix is not a subdomain"
    );
    assert!(
        !pattern.matches(&target(
            Scheme::Https,
            "a.example.com",
            443,
            "/api/v1/x/status"
        )),
        "`*` is one segment"
    );
    assert!(!pattern.matches(&target(
        Scheme::Http,
        "a.example.com",
        443,
        "/api/v1/status"
    )));
    assert!(!pattern.matches(&target(
        Scheme::Https,
        "a.example.com",
        8443,
        "/api/v1/status"
    )));
    assert!(!pattern.matches(&target(
        Scheme::Https,
        "evilexample.com",
        443,
        "/api/v1/status"
    )));
    let any = UrlPattern::parse("http://[::1]:*/**").unwrap();
    assert!(any.matches(&target(Scheme::Http, "::1", 9000, "/x/y")));
    assert!(any.is_catch_all_path());
}

#[test]
fn arg_patterns_are_anchored_whatever_the_author_wrote() {
    let pattern = ArgPattern::parse("[a-z]+").unwrap();
    assert!(pattern.matches("web"));
    assert!(!pattern.matches("web; rm -rf /"));
    assert!(!pattern.matches("-rf web"));
    assert_eq!(
        ArgPattern::parse("restart").unwrap().literal().as_deref(),
        Some("restart")
    );
    assert_eq!(ArgPattern::parse("[a-z]+").unwrap().literal(), None);
}

fn ceilings(text: &str) -> Ceilings {
    parse_config(text, Path::new("medic.toml"), Some("/tmp/d".into()))
        .unwrap()
        .ceilings
}

#[test]
fn a_ceilings_any_depth_path_covers_one_segment_and_any_depth_patterns() {
    let ceiling = r#"
[ceilings.medium]
exec = [{ program = "/usr/bin/supervisorctl", args = ["restart|stop", "[a-z0-9_-]+"] }]
http = [{ method = "GET", url = "http://127.0.0.1:*/**" }]
fs = [{ path = "/var/log", access = "read-write" }]
max_limits = { timeout = "60s", memory = "128MiB" }
"#;
    for url in [
        "http://127.0.0.1:*/api/v2/silence/*",
        "http://127.0.0.1:*/*",
        "http://127.0.0.1:*/a/*/b/**",
    ] {
        let manifest = parse(&VALID.replace("http://127.0.0.1:*/health", url)).unwrap();
        check_within_ceiling(&manifest, &ceilings(ceiling))
            .unwrap_or_else(|error| panic!("{url} should be within /**: {error}"));
    }
    // And the other way round: one segment does not cover two.
    let narrow = ceiling.replace("/**", "/api/*");
    let manifest =
        parse(&VALID.replace("http://127.0.0.1:*/health", "http://127.0.0.1:*/api/**")).unwrap();
    let error = check_within_ceiling(&manifest, &ceilings(&narrow))
        .unwrap_err()
        .to_string();
    assert!(error.contains("allows the path `/api/"), "{error}");
}

#[test]
fn ceilings_bound_each_kind_of_grant() {
    let manifest = parse(VALID).unwrap();
    let full = r#"
[ceilings.medium]
exec = [{ program = "/usr/bin/supervisorctl", args = ["restart|stop", "[a-z0-9_-]+"] }]
http = [{ method = "GET", url = "http://127.0.0.1:*/**" }]
fs = [{ path = "/var/log", access = "read-write" }]
max_limits = { timeout = "60s", memory = "128MiB" }
"#;
    check_within_ceiling(&manifest, &ceilings(full)).unwrap();
    let cases = [
        (
            "program = \"/usr/bin/supervisorctl\"",
            "program = \"/usr/bin/systemctl\"",
            "`capabilities.exec[0]`: exec `/usr/bin/supervisorctl` with 2 arguments allows `/usr/bin/supervisorctl \"restart\" \"a\"`, which is beyond",
        ),
        (
            "url = \"http://127.0.0.1:*/**\"",
            "url = \"http://127.0.0.1:*/status\"",
            "`capabilities.http[0]`: http `GET http://127.0.0.1:*/health` allows the path `/health`, which is beyond",
        ),
        (
            "path = \"/var/log\", access = \"read-write\"",
            "path = \"/var/log/other\", access = \"read-write\"",
            "`capabilities.fs[0]`: fs `/var/log/app` (read) is beyond",
        ),
        (
            // A pattern wider than the ceiling's, as text looks alike: refused, with a call.
            "args = [\"restart|stop\", \"[a-z0-9_-]+\"]",
            "args = [\"restart|stop\", \"[a-z0-9_-]{1,3}\"]",
            "allows `/usr/bin/supervisorctl \"restart\" \"a---\"`, which is beyond",
        ),
        (
            "args = [\"restart|stop\", \"[a-z0-9_-]+\"]",
            "args = [\"stop\", \"[a-z0-9_-]+\"]",
            "allows `/usr/bin/supervisorctl \"restart\" \"a\"`, which is beyond",
        ),
        (
            "url = \"http://127.0.0.1:*/**\"",
            "url = \"http://127.0.0.1:*/health/*\"",
            "allows the path `/health`, which is beyond",
        ),
        (
            "memory = \"128MiB\"",
            "memory = \"32MiB\"",
            "`limits`: memory 67108864 bytes is beyond",
        ),
    ];
    for (from, to, expected) in cases {
        let error = check_within_ceiling(&manifest, &ceilings(&full.replace(from, to)))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected),
            "expected `{expected}` in `{error}`"
        );
        assert!(
            error.contains("the operator's `medium` ceiling (medic.toml)"),
            "{error}"
        );
    }
    let error = check_within_ceiling(&manifest, &ceilings(""))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("beyond the operator's `medium` ceiling"),
        "a missing ceiling grants nothing: {error}"
    );
}

#[test]
fn embedded_default_config_parses_and_covers_the_bundled_remediations() {
    let config = crate::config::load_config(None, Some("/tmp/d".into())).unwrap();
    for manifest in crate::catalog::bundled_manifests().unwrap() {
        check_within_ceiling(&manifest, &config.ceilings).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn manifest_parser_never_panics_on_any_text(text in "\\PC{0,400}") {
        let _ = parse_manifest(&text, Path::new("fuzz.toml"));
    }

    #[test]
    fn manifest_parser_never_panics_on_mutated_manifests(position in 0usize..VALID.len(), insert in "\\PC{0,12}", cut in 0usize..40) {
        let mut text = VALID.to_string();
        let at = (0..=position).rev().find(|index| text.is_char_boundary(*index)).unwrap_or(0);
        let end = (at + cut).min(text.len());
        let end = (end..=text.len()).find(|index| text.is_char_boundary(*index)).unwrap_or(text.len());
        text.replace_range(at..end, &insert);
        let _ = parse_manifest(&text, Path::new("fuzz.toml"));
    }

    #[test]
    fn url_pattern_parser_never_panics(text in "\\PC{0,80}") {
        let _ = UrlPattern::parse(&text);
    }

    #[test]
    fn arg_patterns_never_match_a_leading_option_unless_written(arg in "-[a-z-]{1,10}") {
        let pattern = ArgPattern::parse("^[a-z][a-z0-9_-]{0,63}$").unwrap();
        prop_assert!(!pattern.matches(&arg));
    }
}

/// VALID with `extra` lines added to its http grant (`[[capabilities.http]]`, line 24) or
/// its exec grant, and the url replaced.
fn with_http(url: &str, extra: &str) -> String {
    VALID.replace(
        "url = \"http://127.0.0.1:*/health\"",
        &format!("url = {url:?}\n{extra}"),
    )
}

#[test]
fn secret_uses_parse_in_each_form_and_refuse_what_would_leak() {
    use super::secret_use::AuthScheme;
    let bearer = parse(&with_http(
        "https://ci.example.com/api/**",
        r#"auth = "secret:ci_token""#,
    ))
    .unwrap();
    let auth = bearer.grants.http[0].auth.clone().unwrap();
    assert_eq!(
        (auth.secret.as_str(), &auth.scheme),
        ("ci_token", &AuthScheme::Bearer)
    );
    assert_eq!(
        auth.header("abcdef"),
        ("Authorization".into(), "Bearer abcdef".into())
    );
    let basic = parse(&with_http(
        "https://ci.example.com/api/**",
        r#"auth = { secret = "ci_token", scheme = "basic", user = "bot" }"#,
    ))
    .unwrap();
    assert_eq!(
        basic.grants.http[0].auth.as_ref().unwrap().header("pw"),
        ("Authorization".into(), "Basic Ym90OnB3".into())
    );
    let header = parse(&with_http(
        "http://127.0.0.1:8080/api/**",
        r#"auth = { secret = "secret:gl", scheme = "header", header = "PRIVATE-TOKEN" }"#,
    ))
    .unwrap();
    assert_eq!(
        header.grants.http[0].auth.as_ref().unwrap().header_name(),
        "private-token"
    );
    let exec = parse(&VALID.replace(
        "args = [\"restart\", \"^[a-z][a-z0-9_-]{0,63}$\"]",
        "args = [\"restart\", \"^[a-z][a-z0-9_-]{0,63}$\"]\nenv = { PGPASSWORD = \"secret:db\" }",
    ))
    .unwrap();
    assert_eq!(
        exec.grants.exec[0].secret_env,
        vec![("PGPASSWORD".to_string(), "db".to_string())]
    );
    let handles: Vec<&String> = exec
        .secret_uses()
        .into_iter()
        .map(|(_, handle)| handle)
        .collect();
    assert_eq!(handles, vec!["db"]);

    let refused = [
        (
            with_http("http://ci.example.com/api/**", r#"auth = "secret:ci""#),
            "only over https",
        ),
        (
            with_http("https://ci.example.com/**", r#"auth = "ci""#),
            "not a secret handle",
        ),
        (
            with_http("https://ci.example.com/**", r#"auth = "secret:""#),
            "not a secret handle",
        ),
        (
            with_http(
                "https://ci.example.com/**",
                r#"auth = { secret = "ci", scheme = "digest" }"#,
            ),
            "scheme",
        ),
        (
            with_http(
                "https://ci.example.com/**",
                r#"auth = { secret = "ci", scheme = "header", header = "Host" }"#,
            ),
            "not a header name",
        ),
        (
            with_http("http://127.0.0.1:*/api/**", r#"auth = "secret:ci""#),
            "one host and one port",
        ),
        (
            with_http("https://*.example.com/api/**", r#"auth = "secret:ci""#),
            "one host and one port",
        ),
        (
            with_http("https://ci.example.com:*/api/**", r#"auth = "secret:ci""#),
            "one host and one port",
        ),
        (
            with_http("https://ci.example.com/**", "auth = 3"),
            "secret handle such as",
        ),
        (
            VALID.replace(
                "{0,63}$\"]",
                "{0,63}$\"]\nenv = { LD_PRELOAD = \"secret:x\" }",
            ),
            "not a variable medic sets",
        ),
    ];
    for (text, wanted) in refused {
        let error = parse(&text).unwrap_err();
        assert!(error.contains(wanted), "{wanted:?} not in {error}");
        assert!(error.contains("r.toml:"), "names the line: {error}");
    }
}

#[test]
fn rate_limits_parse_and_name_what_is_wrong() {
    let limited = parse(&VALID.replace(
        "{0,63}$\"]",
        "{0,63}$\"]\nrate = { max = 3, per = \"1h\", key = \"arg:1\" }",
    ))
    .unwrap();
    assert_eq!(
        limited.grants.exec[0].rate.as_ref().unwrap().describe(),
        "3 per 1h, counted per arg:1"
    );
    let refused = [
        ("rate = { max = 0, per = \"1h\" }", "at least 1"),
        ("rate = { max = 3, per = \"soon\" }", "not a duration"),
        ("rate = { max = 3, per = \"90d\" }", "at most 31 days"),
        (
            "rate = { max = 3, per = \"1h\", key = \"arg:2\" }",
            "names no argument",
        ),
        (
            "rate = { max = 3, per = \"1h\", key = \"host\" }",
            "not a rate key",
        ),
    ];
    for (line, wanted) in refused {
        let error =
            parse(&VALID.replace("{0,63}$\"]", &format!("{{0,63}}$\"]\n{line}"))).unwrap_err();
        assert!(error.contains(wanted), "{wanted:?} not in {error}");
    }
    let error = parse(&with_http(
        "https://a.example.com/**",
        "rate = { max = 3, per = \"1h\", key = \"arg:0\" }",
    ))
    .unwrap_err();
    assert!(error.contains("not a rate key"), "{error}");
}

/// VALID with `params` declared before its grants.
fn with_params(params: &str) -> String {
    VALID.replacen(
        "[[capabilities.exec]]",
        &format!("{params}\n[[capabilities.exec]]"),
        1,
    )
}

#[test]
fn params_parse_and_name_what_is_wrong() {
    let manifest = parse(&with_params(
        "[[params]]\nname = \"service\"\nrequired = true\npattern = \"[a-z]{1,10}\"\nfrom = \"resource.id\"\n\
         [[params]]\nname = \"mode\"\ndefault = \"soft\"\npattern = \"soft|hard\"\n",
    ))
    .unwrap();
    assert_eq!(manifest.params.len(), 2);
    assert_eq!(manifest.params[0].from, Some(params::ParamFrom::ResourceId));
    assert_eq!(manifest.params[1].default.as_deref(), Some("soft"));
    let refused = [
        (
            "[[params]]\nname = \"Service\"\npattern = \"x\"\n",
            "snake_case",
        ),
        (
            "[[params]]\nname = \"a\"\npattern = \"x\"\n[[params]]\nname = \"a\"\npattern = \"y\"\n",
            "declared twice",
        ),
        (
            "[[params]]\nname = \"a\"\npattern = \"(\"\n",
            "not a valid regex",
        ),
        (
            "[[params]]\nname = \"a\"\npattern = \"x\"\ndefault = \"y\"\n",
            "does not match the parameter's pattern",
        ),
        (
            "[[params]]\nname = \"a\"\npattern = \"x\"\nfrom = \"env:HOME\"\n",
            "is not `resource.id`",
        ),
        ("[[params]]\nname = \"a\"\n", "missing field `pattern`"),
    ];
    for (params, wanted) in refused {
        let error = parse(&with_params(params)).unwrap_err();
        assert!(error.contains(wanted), "{wanted:?} not in {error}");
    }
    let error =
        parse(&VALID.replace("\"restart\", \"^[a-z]", "\"{service}\", \"^[a-z]")).unwrap_err();
    assert!(
        error.contains("`{service}` names no declared parameter"),
        "{error}"
    );
}

#[test]
fn binding_checks_every_value_and_takes_sources_in_order() {
    let manifest = parse(&with_params(
        "[[params]]\nname = \"service\"\nrequired = true\npattern = \"[a-z]{1,10}\"\nfrom = \"label:app\"\n\
         [[params]]\nname = \"mode\"\ndefault = \"soft\"\npattern = \"soft|hard\"\n\
         [[params]]\nname = \"path\"\npattern = \"/[a-z/]+\"\nfrom = \"evidence:path\"\n",
    ))
    .unwrap();
    let incident = |params: &str, labels: &str| {
        crate::incident::parse_incident(
            &format!(
                r#"{{"id": "i", "source": "cli", "resource": {{"kind": "service", "id": "web"}}, "issue_type": "x", "params": {{{params}}}, "labels": {{{labels}}}}}"#
            ),
            Path::new("i.json"),
        )
        .unwrap()
    };
    let none = params::BindSources::default();
    let bind = |incident: &crate::incident::Incident, sources: &params::BindSources<'_>| {
        params::bind("r", &manifest.params, incident, sources)
    };
    // The incident's own value wins over a label; the default fills the rest.
    let bound = bind(&incident(r#""service": "api""#, r#""app": "web""#), &none).unwrap();
    assert_eq!(bound["service"].value, "api");
    assert_eq!(bound["service"].source, params::Provenance::Incident);
    assert_eq!(bound["mode"].value, "soft");
    assert_eq!(bound["mode"].source, params::Provenance::Default);
    assert!(!bound.contains_key("path"));
    // The label, then the evidence, then the policy.
    let evidence = BTreeMap::from([("path".to_string(), "/var/log".to_string())]);
    let policy = BTreeMap::from([("mode".to_string(), "hard".to_string())]);
    let sources = params::BindSources {
        evidence: Some(&evidence),
        policy: Some(&policy),
    };
    let bound = bind(&incident("", r#""app": "web""#), &sources).unwrap();
    assert_eq!(bound["service"].source, params::Provenance::From);
    assert_eq!(bound["path"].value, "/var/log");
    assert_eq!(bound["mode"].value, "hard");
    assert_eq!(bound["mode"].source, params::Provenance::Policy);
    // Every source is checked against the pattern, and nothing undeclared passes.
    let errors = [
        bind(&incident("", r#""app": "Web!""#), &none)
            .unwrap_err()
            .to_string(),
        bind(&incident("", ""), &none).unwrap_err().to_string(),
        bind(&incident(r#""service": "a", "extra": "1""#, ""), &none)
            .unwrap_err()
            .to_string(),
    ];
    assert!(
        errors[0].contains("`Web!` (from label:app) does not match `[a-z]{1,10}`"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("needs parameter `service`"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].contains("declares no parameter `extra`"),
        "{}",
        errors[2]
    );
    // A template narrows to exactly the value.
    let templated = parse(
        &with_params("[[params]]\nname = \"service\"\npattern = \"[a-z][a-z0-9_-]{0,63}\"\n")
            .replace(
                "\"restart\", \"^[a-z][a-z0-9_-]{0,63}$\"",
                "\"restart\", \"{service}\"",
            ),
    )
    .unwrap();
    let values = BTreeMap::from([("service".to_string(), "web".to_string())]);
    let narrowed = templated.grants.narrowed(&values).unwrap();
    let exec = &narrowed.exec[0];
    let args = |arg: &str| vec!["restart".to_string(), arg.to_string()];
    assert!(exec.matches("/usr/bin/supervisorctl", &args("web")));
    assert!(!exec.matches("/usr/bin/supervisorctl", &args("api")));
    assert!(
        !templated.grants.narrowed(&BTreeMap::new()).unwrap().exec[0]
            .matches("/usr/bin/supervisorctl", &args("web"))
    );
}

#[test]
fn a_root_template_becomes_the_bound_directory_or_nothing() {
    let manifest = parse(
        &with_params("[[params]]\nname = \"dir\"\npattern = \"/[a-z/]+\"\n")
            .replace("path = \"/var/log/app\"", "path = \"{dir}\""),
    )
    .unwrap();
    let template = &manifest.grants.fs[0];
    assert_eq!(template.param.as_deref(), Some("dir"));
    assert!(
        template.relative(Path::new("/var/log/app/x")).is_none(),
        "an unbound template grants nothing"
    );
    let bind = |dir: &str| {
        manifest
            .grants
            .narrowed(&BTreeMap::from([("dir".to_string(), dir.to_string())]))
    };
    let bound = bind("/var/log/app").unwrap();
    assert_eq!(bound.fs[0].path, Path::new("/var/log/app"));
    assert!(bound.fs[0].relative(Path::new("/var/log/app/x")).is_some());
    assert!(bound.fs[0].relative(Path::new("/var/log/other")).is_none());
    for refused in ["/proc/self", "/", "/var/log/../etc", "relative"] {
        let error = bind(refused).unwrap_err();
        assert!(
            error.contains("parameter `dir` as a root"),
            "{refused}: {error}"
        );
    }
    assert!(
        manifest
            .grants
            .narrowed(&BTreeMap::new())
            .unwrap()
            .fs
            .is_empty()
    );
    let error = parse(&VALID.replace("path = \"/var/log/app\"", "path = \"{nope}\"")).unwrap_err();
    assert!(
        error.contains("`{nope}` names no declared parameter"),
        "{error}"
    );
}

#[test]
fn an_argument_pattern_cannot_close_the_anchors_medic_adds() {
    for source in ["restart)|(?:restart", "a)|(b", ")", "x)(?:.*"] {
        let error = ArgPattern::parse(source).unwrap_err();
        assert!(error.contains("not a valid regex"), "{source}: {error}");
    }
    let pattern = ArgPattern::parse("restart|start").unwrap();
    assert!(pattern.matches("start") && !pattern.matches("restartx") && !pattern.matches("xstart"));
}

#[test]
fn a_ceiling_may_not_reach_a_secrets_source_by_a_plain_grant() {
    let cases = [
        (
            "[secrets.db]\nfile = \"/srv/app/token\"\n[ceilings.high]\nfs = [{ path = \"/srv\", access = \"read\" }]\n",
            "holds `/srv/app/token`, the file of secret `db`",
        ),
        (
            "[secrets.db]\nfile = \"/srv/app/token\"\n[ceilings.high]\nexec = [{ program = \"/usr/bin/cat\", args = [\"/srv/.*\"] }]\n",
            "the file of secret `db`, as an argument",
        ),
        (
            "[secrets.app]\nenv = \"APP_TOKEN\"\n[ceilings.high]\nenv = [\"APP_*\"]\n",
            "lets a remediation read `APP_TOKEN`, the variable of secret `app`",
        ),
    ];
    for (text, wanted) in cases {
        let error = parse_config(text, Path::new("medic.toml"), Some("/tmp/d".into()))
            .unwrap_err()
            .to_string();
        assert!(error.contains(wanted), "{wanted:?} not in {error}");
    }
}
