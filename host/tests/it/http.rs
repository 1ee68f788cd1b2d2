//! The http gate from the hostile side: `http-escape` tries hosts, ports, paths, methods,
//! spellings and redirects the manifest does not grant, against loopback servers that
//! record every request.

use medic_tests::{Remediation, Reply, Server};

use super::{Attack, assert_denial_audited, assert_denied, assert_healed, call, medic};

fn health_server() -> Server {
    Server::start(|_, path, _| match path {
        "/health" => Reply::new(200, "ok"),
        _ => Reply::new(404, "no"),
    })
}

#[test]
fn http_sends_a_granted_request() {
    let medic = medic();
    let server = health_server();
    let dir =
        medic.install(&Remediation::new("http-escape").http("GET", "http://127.0.0.1:*/health"));
    let incident = medic.incident("http-ok", &[("url", &server.url("/health"))]);
    let report = assert_healed(&medic.run_remediation(&dir, &incident));
    assert_eq!(server.hits(), vec!["GET /health"]);
    assert!(
        call(&report, "apply")["detail"]
            .as_str()
            .unwrap()
            .contains("status 200 body ok")
    );
}

#[test]
fn http_denies_what_the_manifest_does_not_grant() {
    let medic = medic();
    let server = health_server();
    let other = health_server();
    let port = server.port();
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("GET", &format!("http://127.0.0.1:{port}/health"))
            .http("GET", "http://medic.example/health"),
    );
    let cases: Vec<Attack> = vec![
        (
            "wrong path",
            vec![("url", server.url("/admin"))],
            "not_in_manifest",
        ),
        (
            "dot-dot path",
            vec![("url", server.url("/health/../admin"))],
            "not_in_manifest",
        ),
        (
            "wrong method",
            vec![("url", server.url("/health")), ("method", "POST".into())],
            "not_in_manifest",
        ),
        (
            "wrong port",
            vec![("url", other.url("/health"))],
            "not_in_manifest",
        ),
        (
            "wrong scheme",
            vec![("url", format!("https://127.0.0.1:{port}/health"))],
            "not_in_manifest",
        ),
        (
            "undeclared host",
            vec![("url", format!("http://127.0.0.2:{port}/health"))],
            "not_in_manifest",
        ),
        (
            "userinfo",
            vec![(
                "url",
                format!("http://medic.example@127.0.0.1:{port}/health"),
            )],
            "malformed",
        ),
        (
            "hex loopback for a name grant",
            vec![("url", format!("http://0x7f000001:{}/health", other.port()))],
            "not_in_manifest",
        ),
        (
            "decimal loopback for a name grant",
            vec![("url", format!("http://2130706433:{}/health", other.port()))],
            "not_in_manifest",
        ),
        (
            "metadata address",
            vec![(
                "url",
                "http://169.254.169.254/latest/meta-data/".to_string(),
            )],
            "not_in_manifest",
        ),
        (
            "file scheme",
            vec![("url", "file:///etc/passwd".to_string())],
            "malformed",
        ),
        (
            "host header",
            vec![
                ("url", server.url("/health")),
                ("header", "Host: evil.example".into()),
            ],
            "malformed",
        ),
        (
            "unresolvable name",
            vec![("url", "http://medic.example/health".to_string())],
            "unresolvable",
        ),
    ];
    for (index, (what, params, reason)) in cases.iter().enumerate() {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        let result =
            medic.run_remediation(&dir, &medic.incident(&format!("http-{index}"), &params));
        assert_denied(&result, "http", reason);
        assert!(
            server.hits().is_empty(),
            "{what}: the granted server was not hit"
        );
        assert!(
            other.hits().is_empty(),
            "{what}: the other server was not hit"
        );
    }
    assert_denial_audited(&medic, "http", "/admin", "not_in_manifest");
    assert_denial_audited(&medic, "http", "169.254.169.254", "not_in_manifest");
    // Still healthy, and an alternate spelling of the granted address is the same address.
    let incident = medic.incident(
        "http-after",
        &[("url", format!("http://127.1:{port}/health").as_str())],
    );
    assert_healed(&medic.run_remediation(&dir, &incident));
    assert_eq!(server.hits(), vec!["GET /health"]);
}

#[test]
fn http_does_not_follow_a_redirect_off_the_list() {
    let medic = medic();
    let elsewhere = health_server();
    let target = elsewhere.url("/health");
    let start = Server::start(move |_, _, _| Reply::redirect(&target));
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("GET", &format!("http://127.0.0.1:{}/start", start.port())),
    );
    let incident = medic.incident(
        "http-redirect",
        &[("url", start.url("/start").as_str()), ("follow", "yes")],
    );
    let result = medic.run_remediation(&dir, &incident);
    let report = result.json();
    assert_eq!(report["host_calls"][0]["allowed"], true);
    assert!(
        report["host_calls"][0]["result"]
            .as_str()
            .unwrap()
            .starts_with("status 302"),
        "the 3xx came back to the guest: {report:#}"
    );
    assert_denied(&result, "http", "not_in_manifest");
    assert_eq!(start.hits(), vec!["GET /start"]);
    assert!(
        elsewhere.hits().is_empty(),
        "the redirect target was never contacted"
    );
    assert_denial_audited(&medic, "http", &elsewhere.url("/health"), "not_in_manifest");
}

#[test]
fn http_connect_checks_reach_only_granted_ports() {
    let medic = medic();
    let server = health_server();
    let other = health_server();
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("CONNECT", &format!("tcp://127.0.0.1:{}", server.port())),
    );
    let ok = medic.incident(
        "tcp-ok",
        &[("tcp", format!("127.0.0.1:{}", server.port()).as_str())],
    );
    assert_healed(&medic.run_remediation(&dir, &ok));
    let bad = medic.incident(
        "tcp-bad",
        &[("tcp", format!("127.0.0.1:{}", other.port()).as_str())],
    );
    assert_denied(
        &medic.run_remediation(&dir, &bad),
        "http",
        "not_in_manifest",
    );
    assert_denial_audited(
        &medic,
        "http",
        &format!("tcp://127.0.0.1:{}", other.port()),
        "not_in_manifest",
    );
}

#[test]
fn http_sends_the_one_normalised_name_it_checked() {
    let medic = medic();
    let server = health_server();
    let port = server.port();
    let dir = medic.install(
        &Remediation::new("http-escape").http("GET", &format!("http://localhost:{port}/health")),
    );
    let incident = medic.incident(
        "http-dot",
        &[("url", format!("http://LocalHost.:{port}/health").as_str())],
    );
    assert_healed(&medic.run_remediation(&dir, &incident));
    assert_eq!(server.hosts(), vec![format!("localhost:{port}")]);
}

#[test]
fn http_refuses_separators_hidden_in_a_path_segment() {
    let medic = medic();
    let server = health_server();
    let port = server.port();
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("GET", &format!("http://127.0.0.1:{port}/api/*/status")),
    );
    for (index, path) in [
        "/api/web%2F..%2Fadmin/status",
        "/api/web%5Cadmin/status",
        "/api/a%00b/status",
    ]
    .iter()
    .enumerate()
    {
        let incident = medic.incident(
            &format!("http-seg-{index}"),
            &[("url", server.url(path).as_str())],
        );
        assert_denied(&medic.run_remediation(&dir, &incident), "http", "malformed");
    }
    assert!(server.hits().is_empty());
    assert_denial_audited(&medic, "http", "%2F", "malformed");
    let fine = medic.incident(
        "http-seg-fine",
        &[("url", server.url("/api/w%65b/status").as_str())],
    );
    assert_healed(&medic.run_remediation(&dir, &fine));
    assert_eq!(server.hits(), vec!["GET /api/w%65b/status"]);
}

#[test]
fn http_ignores_proxy_settings_in_medics_environment() {
    let medic = medic();
    let server = health_server();
    let proxy = Server::start(|_, _, _| Reply::new(200, "proxied"));
    let dir = medic.install(
        &Remediation::new("http-escape")
            .http("GET", &format!("http://127.0.0.1:{}/health", server.port())),
    );
    let incident = medic.incident("http-proxy", &[("url", server.url("/health").as_str())]);
    let proxy_url = proxy.url("");
    let result = medic.run_with_env(
        &[
            "run",
            &dir.display().to_string(),
            "--incident",
            &incident.display().to_string(),
            "--json",
        ],
        &[
            ("HTTP_PROXY", &proxy_url),
            ("http_proxy", &proxy_url),
            ("ALL_PROXY", &proxy_url),
            ("NO_PROXY", ""),
        ],
    );
    assert_healed(&result);
    assert_eq!(server.hits(), vec!["GET /health"]);
    assert!(proxy.hits().is_empty(), "the proxy was never used");
}
