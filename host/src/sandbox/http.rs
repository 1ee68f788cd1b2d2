//! The `http` gate: the only place a remediation's network request is decided and made.
//!
//! medic parses the URL itself (WHATWG rules: `0x7f.1`, `2130706433` and `127.1` all become
//! `127.0.0.1`, dot segments are resolved), refuses userinfo and schemes other than http
//! and https, and matches method, scheme, host, port and path against the manifest and the
//! ceiling. A host name is resolved once, here; a name other than `localhost` must resolve
//! only to public addresses (no DNS rebinding to loopback, private or link-local ranges),
//! `localhost` only to loopback, and the connection goes to the address that was checked.
//! Redirects are never followed: a 3xx goes back to the guest, and a request to its
//! `Location` is checked again like any other. No proxy is used. Responses are cut at
//! [`MAX_RESPONSE_BYTES`]; the guest cannot set `Host` or hop-by-hop headers.
//! `connect` (a TCP check) is granted by `CONNECT tcp://host:port` entries.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::bindings::HostError;
use super::bindings::medic::remediation::http::{Host, Request, Response};
use super::state::HostState;
use crate::manifest::grant::{HostValue, HttpGrant, Scheme, Target};

/// Most response body bytes handed to a guest.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Most request body bytes a guest may send.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;
/// The longest one request may take.
pub const MAX_REQUEST_TIME: Duration = Duration::from_secs(30);
/// The longest a TCP connect check may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Headers the guest may not set: the host sets them, or they change where a request goes.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "http2-settings",
];
const MAX_HEADERS: usize = 64;

/// Parse a request URL into what grants are matched against.
pub(crate) fn parse_target(url: &str) -> Result<(url::Url, Target), String> {
    let parsed = url::Url::parse(url)
        .map_err(|error| format!("`{url}` is not a valid absolute URL: {error}"))?;
    let scheme = match parsed.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(format!(
                "scheme `{other}` is not allowed (http or https only)"
            ));
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("userinfo (`user@` or `user:pass@`) in a URL is never allowed".to_string());
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => HostValue::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => HostValue::Ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            HostValue::Domain(name.to_ascii_lowercase().trim_end_matches('.').to_string())
        }
        None => return Err(format!("`{url}` has no host")),
    };
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| format!("`{url}` has no port"))?;
    let target = Target {
        scheme,
        host,
        port,
        path: parsed.path().to_string(),
    };
    Ok((parsed, target))
}

/// Decide a request: the grant that allows it, or why not.
pub(crate) fn check_http<'g>(
    manifest: &'g [HttpGrant],
    ceiling: &[HttpGrant],
    method: &str,
    target: &Target,
) -> Result<&'g HttpGrant, String> {
    let shown = format!(
        "{method} {}://{}:{}{}",
        target.scheme.as_str(),
        target.host,
        target.port,
        target.path
    );
    let Some(grant) = manifest.iter().find(|grant| grant.matches(method, target)) else {
        return Err(format!("`{shown}` matches no http grant in the manifest"));
    };
    if !ceiling
        .iter()
        .any(|allowed| allowed.matches(method, target))
    {
        return Err(format!(
            "`{shown}` is beyond the operator's ceiling for this risk level"
        ));
    }
    Ok(grant)
}

/// Resolve the target's host once and check the addresses; returns the one to connect to.
pub(crate) async fn resolve_checked(host: &HostValue, port: u16) -> Result<SocketAddr, String> {
    match host {
        HostValue::Ip(ip) if ip.is_unspecified() => {
            Err(format!("`{ip}` is not an address to connect to"))
        }
        HostValue::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        HostValue::Domain(name) => {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|error| format!("cannot resolve `{name}`: {error}"))?
                .collect();
            let first = *addresses
                .first()
                .ok_or_else(|| format!("`{name}` resolves to no address"))?;
            let localhost = name == "localhost";
            for address in &addresses {
                let ip = address.ip();
                let fine = if localhost {
                    ip.is_loopback()
                } else {
                    is_public(ip)
                };
                if !fine {
                    return Err(format!(
                        "`{name}` resolves to `{ip}`, which a name may not reach (grant the address itself if it is meant)"
                    ));
                }
            }
            Ok(first)
        }
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            let mapped = ip.to_ipv4_mapped().map(IpAddr::V4);
            !(ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
                && mapped.is_none_or(is_public)
        }
    }
}

impl Host for HostState {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        let method = request.method.to_ascii_uppercase();
        let mut target_text = format!("{method} {}", request.url);
        let grants = self.grants.clone();
        let decision = parse_target(&request.url).and_then(|(url, target)| {
            target_text = format!("{method} {url}");
            if method == "CONNECT" {
                return Err("method CONNECT is only for `connect`".to_string());
            }
            check_headers(&request.headers)?;
            if request.body.len() > MAX_REQUEST_BYTES {
                return Err(format!(
                    "request body of {} bytes is over the {MAX_REQUEST_BYTES}-byte cap",
                    request.body.len()
                ));
            }
            let grant = check_http(
                &grants.manifest.grants.http,
                &grants.ceiling.grants.http,
                &method,
                &target,
            )?;
            Ok((
                url,
                target,
                format!(
                    "matches `{} {}` ({})",
                    grant.method, grant.url.source, grant.origin
                ),
            ))
        });
        let (url, target, reason) = match decision {
            Ok(allowed) => allowed,
            Err(reason) => {
                self.record(
                    "http",
                    target_text,
                    Err(reason.clone()),
                    String::new(),
                    started,
                )?;
                return Ok(Err(HostError::Denied(reason)));
            }
        };
        let address = match resolve_checked(&target.host, target.port).await {
            Ok(address) => address,
            Err(reason) => {
                self.record(
                    "http",
                    target_text,
                    Err(reason.clone()),
                    String::new(),
                    started,
                )?;
                return Ok(Err(HostError::Denied(reason)));
            }
        };
        let timeout = grants.manifest.limits.timeout.min(MAX_REQUEST_TIME);
        let outcome = send_pinned(
            &method,
            url,
            &target,
            address,
            request.headers,
            request.body,
            timeout,
        )
        .await;
        let result = match &outcome {
            Ok(response) => format!(
                "status {} body {}B{} via {address}",
                response.status,
                response.body.len(),
                if response.truncated {
                    " (truncated)"
                } else {
                    ""
                }
            ),
            Err(error) => format!("failed: {error}"),
        };
        self.record("http", target_text, Ok(reason), result, started)?;
        Ok(outcome.map_err(HostError::Failed))
    }

    async fn connect(
        &mut self,
        host: String,
        port: u16,
    ) -> wasmtime::Result<Result<u32, HostError>> {
        self.budget.charge_call()?;
        let started = Instant::now();
        let target_text = format!("CONNECT tcp://{host}:{port}");
        let grants = self.grants.clone();
        let decision = parse_tcp_target(&host, port).and_then(|target| {
            let grant = check_http(
                &grants.manifest.grants.http,
                &grants.ceiling.grants.http,
                "CONNECT",
                &target,
            )?;
            Ok((
                target,
                format!("matches `CONNECT {}` ({})", grant.url.source, grant.origin),
            ))
        });
        let (target, reason) = match decision {
            Ok(allowed) => allowed,
            Err(reason) => {
                self.record(
                    "http",
                    target_text,
                    Err(reason.clone()),
                    String::new(),
                    started,
                )?;
                return Ok(Err(HostError::Denied(reason)));
            }
        };
        let address = match resolve_checked(&target.host, port).await {
            Ok(address) => address,
            Err(reason) => {
                self.record(
                    "http",
                    target_text,
                    Err(reason.clone()),
                    String::new(),
                    started,
                )?;
                return Ok(Err(HostError::Denied(reason)));
            }
        };
        let outcome =
            match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address))
                .await
            {
                Ok(Ok(_stream)) => {
                    Ok(started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32)
                }
                Ok(Err(error)) => Err(format!("connect to {address}: {error}")),
                Err(_) => Err(format!(
                    "connect to {address} timed out after {}",
                    humantime::format_duration(CONNECT_TIMEOUT)
                )),
            };
        let result = match &outcome {
            Ok(millis) => format!("connected to {address} in {millis} ms"),
            Err(error) => format!("failed: {error}"),
        };
        self.record("http", target_text, Ok(reason), result, started)?;
        Ok(outcome.map_err(HostError::Failed))
    }
}

fn parse_tcp_target(host: &str, port: u16) -> Result<Target, String> {
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
        return Err(format!("`{host}` is not a host name or address"));
    }
    let bracketed = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let (_, target) = parse_target(&format!("http://{bracketed}:{port}/"))?;
    Ok(Target {
        scheme: Scheme::Tcp,
        host: target.host,
        port,
        path: "/".to_string(),
    })
}

fn check_headers(headers: &[(String, String)]) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers is more than {MAX_HEADERS}",
            headers.len()
        ));
    }
    for (name, _) in headers {
        if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "header `{name}` is set by the host and may not be sent by a remediation"
            ));
        }
    }
    Ok(())
}

async fn send_pinned(
    method: &str,
    url: url::Url,
    target: &Target,
    address: SocketAddr,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, String> {
    #[expect(
        clippy::disallowed_methods,
        reason = "sandbox/http.rs is the http gate: the one client remediations reach"
    )]
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT);
    if let HostValue::Domain(name) = &target.host {
        client = client.resolve(name, address);
    }
    let client = client
        .build()
        .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("`{method}` is not an HTTP method"))?;
    let mut request = client.request(method, url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut response = request.send().await.map_err(|error| format!("{error}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| format!("reading the body: {error}"))?
    {
        let room = MAX_RESPONSE_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Origin;
    use crate::manifest::grant::UrlPattern;

    fn grant(method: &str, url: &str) -> HttpGrant {
        HttpGrant {
            method: method.to_string(),
            url: UrlPattern::parse(url).unwrap(),
            origin: Origin {
                file: "t.toml".into(),
                field: "capabilities.http[0]".into(),
                line: Some(1),
            },
        }
    }

    fn check(method: &str, url: &str) -> Result<(), String> {
        let grants = [
            grant("GET", "http://127.0.0.1:*/health"),
            grant("POST", "https://api.example.com/v1/**"),
        ];
        let (_, target) = parse_target(url)?;
        check_http(&grants, &grants, method, &target).map(|_| ())
    }

    #[test]
    fn http_matches_method_scheme_host_port_and_path() {
        assert_eq!(check("GET", "http://127.0.0.1:8080/health"), Ok(()));
        assert_eq!(check("GET", "http://0x7f.0.0.1:8080/health"), Ok(()));
        assert_eq!(check("GET", "http://2130706433:9/health"), Ok(()));
        assert_eq!(check("GET", "http://127.1:9/x/../health"), Ok(()));
        assert_eq!(check("POST", "https://API.example.com./v1/reload"), Ok(()));
        for (method, url) in [
            ("POST", "http://127.0.0.1:8080/health"),
            ("GET", "http://127.0.0.2:8080/health"),
            ("GET", "http://127.0.0.1:8080/admin"),
            ("GET", "http://127.0.0.1:8080/health/../admin"),
            ("POST", "http://api.example.com/v1/reload"),
            ("POST", "https://api.example.com:8443/v1/reload"),
            ("POST", "https://evil.com/v1/reload"),
            ("POST", "https://api.example.com.evil.com/v1/x"),
        ] {
            assert!(
                check(method, url).is_err(),
                "{method} {url} should be denied"
            );
        }
    }

    #[test]
    fn http_refuses_userinfo_and_other_schemes() {
        assert_eq!(
            check("GET", "http://127.0.0.1@evil.com/health").unwrap_err(),
            "userinfo (`user@` or `user:pass@`) in a URL is never allowed"
        );
        assert_eq!(
            check("GET", "file:///etc/passwd").unwrap_err(),
            "scheme `file` is not allowed (http or https only)"
        );
    }

    #[test]
    fn names_must_resolve_to_public_addresses() {
        assert!(!is_public("127.0.0.1".parse().unwrap()));
        assert!(!is_public("169.254.169.254".parse().unwrap()));
        assert!(!is_public("10.1.2.3".parse().unwrap()));
        assert!(!is_public("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_public("fe80::1".parse().unwrap()));
        assert!(is_public("93.184.216.34".parse().unwrap()));
    }
}
