//! The `http` gate: the only place a remediation's network request is decided and made.
//!
//! medic parses the URL itself (WHATWG rules: `0x7f.1`, `2130706433` and `127.1` all become
//! `127.0.0.1`, dot segments are resolved, names go through IDNA), normalises the host once
//! (lower case, trailing dot dropped) and uses that one name for the check, the resolution
//! and the connection. It refuses userinfo and schemes other than http and https, and
//! matches method, scheme, host, port and path against the manifest and the ceiling; paths
//! are matched on their decoded segments, and a segment that decodes to a separator (`%2F`,
//! `%5C`), a dot segment or a control character is refused. A host name is resolved once,
//! here; a name other than `localhost` must resolve only to public addresses (no DNS
//! rebinding to loopback, private, link-local, multicast, reserved, NAT64 or 6to4 ranges),
//! `localhost` only to loopback. The HTTP client is handed the checked socket address and
//! resolves nothing itself. Redirects are never followed: a 3xx goes back to the guest,
//! and a request to its `Location` is checked again like any other. No proxy is used.
//! While `plan` runs only GET and HEAD are sent. Responses are cut at
//! [`MAX_RESPONSE_BYTES`] or the guest's remaining memory; the guest cannot set `Host` or
//! hop-by-hop headers. `connect` (a TCP check) is granted by `CONNECT tcp://host:port`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Operation;
use super::bindings::HostError;
use super::bindings::medic::remediation::http::{Host, Request, Response};
use super::denial::{Denial, DenialKind};
use super::rate::{Limit, http_key};
use super::state::HostState;
use super::world::World;
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
    // A method or URL override would make a GET allowed during plan act as a DELETE, or
    // send a request to a path its grant does not cover.
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-method",
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-host",
    "x-forwarded-prefix",
    "x-forwarded-path",
];
const MAX_HEADERS: usize = 64;
/// Methods `plan` may send: they change nothing.
const PLAN_METHODS: &[&str] = &["GET", "HEAD"];

fn malformed(reason: String) -> Denial {
    Denial::new(DenialKind::Malformed, reason)
}

/// Parse a request URL into what grants are matched against, and the URL to send, whose
/// host is the one normalised name that is checked, resolved and connected to.
pub(crate) fn parse_target(url: &str) -> Result<(url::Url, Target), Denial> {
    let mut parsed = url::Url::parse(url)
        .map_err(|error| malformed(format!("`{url}` is not a valid absolute URL: {error}")))?;
    let scheme = match parsed.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => {
            return Err(malformed(format!(
                "scheme `{other}` is not allowed (http or https only)"
            )));
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(malformed(
            "userinfo (`user@` or `user:pass@`) in a URL is never allowed".to_string(),
        ));
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => HostValue::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => HostValue::Ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let lower = name.to_ascii_lowercase();
            let name = lower.strip_suffix('.').unwrap_or(&lower).to_string();
            if name.is_empty() || name.ends_with('.') || name.contains("..") {
                return Err(malformed(format!(
                    "`{url}` has an empty label in its host name"
                )));
            }
            HostValue::Domain(name)
        }
        None => return Err(malformed(format!("`{url}` has no host"))),
    };
    if let HostValue::Domain(name) = &host {
        parsed
            .set_host(Some(name))
            .map_err(|error| malformed(format!("`{url}`: host `{name}`: {error}")))?;
    }
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| malformed(format!("`{url}` has no port")))?;
    let target = Target {
        scheme,
        host,
        port,
        path: decoded_path(&parsed)?,
        has_query: parsed.query().is_some(),
    };
    Ok((parsed, target))
}

/// The URL's path with each segment percent-decoded, refusing a segment that decodes to a
/// separator, a dot segment or a control character, so a grant's pattern sees the path the
/// server will see.
fn decoded_path(url: &url::Url) -> Result<String, Denial> {
    let mut decoded = String::new();
    for segment in url.path().split('/').skip(1) {
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
        let text = String::from_utf8(bytes)
            .map_err(|_| malformed(format!("path segment `{segment}` does not decode to UTF-8")))?;
        if text.contains(['/', '\\']) {
            return Err(malformed(format!(
                "path segment `{segment}` hides a separator (`%2F` or `%5C`)"
            )));
        }
        if text == "." || text == ".." {
            return Err(malformed(format!(
                "path segment `{segment}` is a dot segment"
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(malformed(format!(
                "path segment `{segment}` holds a control character"
            )));
        }
        decoded.push('/');
        decoded.push_str(&text);
    }
    if decoded.is_empty() {
        decoded.push('/');
    }
    Ok(decoded)
}

/// Decide a request: the grant that allows it, or why not.
pub(crate) fn check_http<'g>(
    manifest: &'g [HttpGrant],
    ceiling: &[HttpGrant],
    operation: Operation,
    method: &str,
    target: &Target,
) -> Result<&'g HttpGrant, Denial> {
    let shown = format!(
        "{method} {}://{}:{}{}",
        target.scheme.as_str(),
        target.host,
        target.port,
        target.path
    );
    let Some(grant) = manifest.iter().find(|grant| grant.matches(method, target)) else {
        return Err(Denial::new(
            DenialKind::NotInManifest,
            format!("`{shown}` matches no http grant in the manifest"),
        ));
    };
    if !ceiling
        .iter()
        .any(|allowed| allowed.matches(method, target))
    {
        return Err(Denial::new(
            DenialKind::BeyondCeiling,
            format!("`{shown}` is beyond the operator's ceiling for this risk level"),
        ));
    }
    if operation == Operation::Plan && method != "CONNECT" && !PLAN_METHODS.contains(&method) {
        return Err(Denial::new(
            DenialKind::DuringPlan,
            format!("`plan` is a dry run and may send only GET and HEAD, not `{shown}`"),
        ));
    }
    Ok(grant)
}

/// Resolve the target's host once and check the addresses; returns the one to connect to.
pub(crate) async fn resolve_checked(host: &HostValue, port: u16) -> Result<SocketAddr, Denial> {
    let private = |reason: String| Denial::new(DenialKind::PrivateAddress, reason);
    match host {
        HostValue::Ip(ip) if ip.is_unspecified() || ip.is_multicast() => {
            Err(private(format!("`{ip}` is not an address to connect to")))
        }
        HostValue::Ip(ip) => Ok(SocketAddr::new(*ip, port)),
        HostValue::Domain(name) => {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|error| {
                    Denial::new(
                        DenialKind::Unresolvable,
                        format!("cannot resolve `{name}`: {error}"),
                    )
                })?
                .collect();
            let first = *addresses.first().ok_or_else(|| {
                Denial::new(
                    DenialKind::Unresolvable,
                    format!("`{name}` resolves to no address"),
                )
            })?;
            let localhost = name == "localhost";
            for address in &addresses {
                let ip = address.ip();
                let fine = if localhost {
                    ip.is_loopback()
                } else {
                    is_public(ip)
                };
                if !fine {
                    return Err(private(format!(
                        "`{name}` resolves to `{ip}`, which a name may not reach (grant the address itself if it is meant)"
                    )));
                }
            }
            Ok(first)
        }
    }
}

/// True for an address on the public internet: not loopback, private, link-local,
/// shared, documentation, benchmarking, multicast, reserved, NAT64, 6to4 or Teredo.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return is_public_v4(mapped);
            }
            let segments = ip.segments();
            let first = segments[0];
            let embeds_v4 = segments[..6].iter().all(|segment| *segment == 0);
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || embeds_v4
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || (segments[0] == 0x64 && segments[1] == 0xff9b)
                || first == 0x2002
                || (first == 0x2001 && segments[1] < 0x0200)
                || (first == 0x2001 && segments[1] == 0x0db8)
                || (first == 0x0100 && segments[1..4] == [0, 0, 0]))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0))
}

impl Host for HostState {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, HostError>> {
        let started = Instant::now();
        let method = request.method.to_ascii_uppercase();
        let mut target_text = format!("{method} {}", request.url);
        if let Err(denial) = self.begin()? {
            return self.deny("http", target_text, denial, started);
        }
        let grants = self.grants.clone();
        let operation = self.operation;
        let decision = parse_target(&request.url).and_then(|(url, target)| {
            target_text = format!("{method} {url}");
            if method == "CONNECT" {
                return Err(malformed(
                    "method CONNECT is only for `connect`".to_string(),
                ));
            }
            check_headers(&request.headers)?;
            if request.body.len() > MAX_REQUEST_BYTES {
                return Err(Denial::new(
                    DenialKind::OverCap,
                    format!(
                        "request body of {} bytes is over the {MAX_REQUEST_BYTES}-byte cap",
                        request.body.len()
                    ),
                ));
            }
            let grant = check_http(
                &grants.manifest.grants.http,
                &grants.scope.ceiling.grants.http,
                operation,
                &method,
                &target,
            )?;
            if operation == Operation::Plan && !request.body.is_empty() {
                return Err(Denial::new(
                    DenialKind::DuringPlan,
                    "`plan` is a dry run: its requests carry no body",
                ));
            }
            let auth = auth_header(grant, &request.headers, &grants.scope.secrets)?;
            let limits = rate_limits(
                grant,
                &grants.scope.ceiling.grants.http,
                &grants.manifest.name,
                &method,
                &target,
            );
            let mut reason = format!(
                "matches `{} {}` ({})",
                grant.method, grant.url.source, grant.origin
            );
            if let Some(auth) = &grant.auth {
                reason.push_str(&format!("; the host adds {}", auth.describe()));
            }
            Ok((url, target, reason, auth, limits, grant.origin.clone()))
        });
        let (url, target, reason, auth, limits, origin) = match decision {
            Ok(allowed) => allowed,
            Err(denial) => return self.deny("http", target_text, denial, started),
        };
        if let Err(denial) = self.admit(&limits) {
            return self.deny("http", target_text, denial, started);
        }
        self.used_grant(&origin);
        if let World::Scripted(world) = &grants.scope.world {
            if let Err(denial) = check_scripted_host(&target.host) {
                return self.deny("http", target_text, denial, started);
            }
            let body_cap = MAX_RESPONSE_BYTES.min(self.limiter.room());
            let outcome = world
                .http(operation, &method, url.as_str(), &request.body)
                .map(|answer| {
                    let truncated = answer.body.len() > body_cap;
                    let mut body = answer.body;
                    body.truncate(body_cap);
                    let response = Response {
                        status: answer.status,
                        headers: answer.headers,
                        body,
                        truncated,
                    };
                    redact_response(response, &grants.scope.redactor)
                });
            let result = match &outcome {
                Ok(response) => format!(
                    "status {} body {}B{} (scripted)",
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
            return Ok(outcome.map_err(HostError::Failed));
        }
        let mut headers = request.headers;
        headers.extend(auth);
        let limit = self.remaining(MAX_REQUEST_TIME);
        let address = match resolve_within(&target.host, target.port, limit).await {
            Ok(address) => address,
            Err(denial) => return self.deny("http", target_text, denial, started),
        };
        let timeout = self.remaining(grants.manifest.limits.timeout.min(MAX_REQUEST_TIME));
        self.acting("http", &target_text, &reason, started);
        let body_cap = MAX_RESPONSE_BYTES.min(self.limiter.room());
        let outcome = send_pinned(
            &method,
            url,
            &target,
            address,
            (headers, request.body),
            timeout,
            body_cap,
        )
        .await
        .map(|response| redact_response(response, &grants.scope.redactor));
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
        let started = Instant::now();
        let target_text = format!("CONNECT tcp://{host}:{port}");
        if let Err(denial) = self.begin()? {
            return self.deny("http", target_text, denial, started);
        }
        let grants = self.grants.clone();
        let operation = self.operation;
        let decision = parse_tcp_target(&host, port).and_then(|target| {
            let grant = check_http(
                &grants.manifest.grants.http,
                &grants.scope.ceiling.grants.http,
                operation,
                "CONNECT",
                &target,
            )?;
            let limits = rate_limits(
                grant,
                &grants.scope.ceiling.grants.http,
                &grants.manifest.name,
                "CONNECT",
                &target,
            );
            let reason = format!("matches `CONNECT {}` ({})", grant.url.source, grant.origin);
            Ok((target, reason, limits, grant.origin.clone()))
        });
        let (target, reason, limits, origin) = match decision {
            Ok(allowed) => allowed,
            Err(denial) => return self.deny("http", target_text, denial, started),
        };
        if let Err(denial) = self.admit(&limits) {
            return self.deny("http", target_text, denial, started);
        }
        self.used_grant(&origin);
        if let World::Scripted(world) = &grants.scope.world {
            if let Err(denial) = check_scripted_host(&target.host) {
                return self.deny("http", target_text, denial, started);
            }
            let outcome = world
                .connect(operation, &target.host.to_string(), port)
                .map(|()| 0u32);
            let result = match &outcome {
                Ok(_) => "connected (scripted)".to_string(),
                Err(error) => format!("failed: {error}"),
            };
            self.record("http", target_text, Ok(reason), result, started)?;
            return Ok(outcome.map_err(HostError::Failed));
        }
        let limit = self.remaining(MAX_REQUEST_TIME);
        let address = match resolve_within(&target.host, port, limit).await {
            Ok(address) => address,
            Err(denial) => return self.deny("http", target_text, denial, started),
        };
        let connect_timeout = self.remaining(CONNECT_TIMEOUT);
        self.acting("http", &target_text, &reason, started);
        let outcome =
            match tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(address))
                .await
            {
                Ok(Ok(_stream)) => {
                    Ok(started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32)
                }
                Ok(Err(error)) => Err(format!("connect to {address}: {error}")),
                Err(_) => Err(format!(
                    "connect to {address} timed out after {}",
                    humantime::format_duration(connect_timeout)
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

/// In a scripted world no name is resolved (the scenario answers the checked URL), but an
/// address no request may go to is refused as it is on this host.
fn check_scripted_host(host: &HostValue) -> Result<(), Denial> {
    match host {
        HostValue::Ip(ip) if ip.is_unspecified() || ip.is_multicast() => Err(Denial::new(
            DenialKind::PrivateAddress,
            format!("`{ip}` is not an address to connect to"),
        )),
        _ => Ok(()),
    }
}

/// Resolve and check `host`, giving up after `limit` (what is left of the call's time).
async fn resolve_within(
    host: &HostValue,
    port: u16,
    limit: Duration,
) -> Result<SocketAddr, Denial> {
    {
        match tokio::time::timeout(limit, resolve_checked(host, port)).await {
            Ok(resolved) => resolved,
            Err(_) => Err(Denial::new(
                DenialKind::Unresolvable,
                format!(
                    "resolving `{host}` took longer than {}",
                    humantime::format_duration(limit)
                ),
            )),
        }
    }
}

fn parse_tcp_target(host: &str, port: u16) -> Result<Target, Denial> {
    if host.is_empty() || host.contains(['/', '@', '?', '#', ' ', '\\']) {
        return Err(malformed(format!("`{host}` is not a host name or address")));
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
        has_query: false,
    })
}

fn check_headers(headers: &[(String, String)]) -> Result<(), Denial> {
    if headers.len() > MAX_HEADERS {
        return Err(Denial::new(
            DenialKind::OverCap,
            format!("{} headers is more than {MAX_HEADERS}", headers.len()),
        ));
    }
    for (name, _) in headers {
        if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().replace('_', "-").as_str()) {
            return Err(malformed(format!(
                "header `{name}` is set by the host and may not be sent by a remediation"
            )));
        }
    }
    Ok(())
}

/// The header the host adds for `grant`'s `auth`, refusing a request that sets it itself
/// (the guest may not choose, or learn, the credential).
fn auth_header(
    grant: &HttpGrant,
    headers: &[(String, String)],
    secrets: &crate::secrets::Secrets,
) -> Result<Option<(String, String)>, Denial> {
    let Some(auth) = &grant.auth else {
        return Ok(None);
    };
    let name = auth.header_name();
    // Servers behind CGI, WSGI or PHP read `_` as `-`: an alias is the same header.
    let folded = |text: &str| text.to_ascii_lowercase().replace('_', "-");
    let same = |header: &str| folded(header) == folded(&name);
    if headers.iter().any(|(header, _)| same(header)) {
        return Err(malformed(format!(
            "header `{name}` is set by the host from `secret:{}` for this grant ({}); the request may not set it",
            auth.secret, grant.origin
        )));
    }
    let value = secrets.get(&auth.secret).ok_or_else(|| {
        Denial::new(
            DenialKind::BeyondCeiling,
            format!("secret `{}` was not resolved for this run", auth.secret),
        )
    })?;
    Ok(Some(auth.header(value)))
}

/// The limits on a request: its grant's, counted for this remediation, and each matching
/// ceiling entry's, counted across remediations.
fn rate_limits<'g>(
    grant: &'g HttpGrant,
    ceiling: &'g [HttpGrant],
    remediation: &str,
    method: &str,
    target: &Target,
) -> Vec<(Limit<'g>, String)> {
    let own = grant.rate.as_ref().map(|rate| Limit {
        scope: format!(
            "remediation {remediation}: {} {}",
            grant.method, grant.url.source
        ),
        rate,
    });
    let operator = ceiling
        .iter()
        .filter(|entry| entry.matches(method, target))
        .filter_map(|entry| {
            entry.rate.as_ref().map(|rate| Limit {
                scope: format!("ceiling: {} {}", entry.method, entry.url.source),
                rate,
            })
        });
    own.into_iter()
        .chain(operator)
        .map(|limit| {
            let key = http_key(&limit.rate.key, method, target);
            (limit, key)
        })
        .collect()
}

/// A response with every secret and declared env value cut out of its headers and body:
/// a server that echoes the credential back does not hand it to the guest.
fn redact_response(response: Response, redactor: &crate::secrets::Redactor) -> Response {
    if redactor.is_empty() {
        return response;
    }
    Response {
        status: response.status,
        headers: response
            .headers
            .into_iter()
            .map(|(name, value)| (name, redactor.redact(&value).into_owned()))
            .collect(),
        body: if response.truncated {
            redactor.redact_truncated(&response.body).into_owned()
        } else {
            redactor.redact_bytes(&response.body).into_owned()
        },
        truncated: response.truncated,
    }
}

/// The one resolution the client may make: the checked name to the checked address.
struct PinnedResolver {
    name: String,
    address: SocketAddr,
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let answer: Result<reqwest::dns::Addrs, Box<dyn std::error::Error + Send + Sync>> =
            if name.as_str() == self.name {
                Ok(Box::new(std::iter::once(self.address)))
            } else {
                Err(format!("medic resolves only the checked name `{}`", self.name).into())
            };
        Box::pin(std::future::ready(answer))
    }
}

async fn send_pinned(
    method: &str,
    url: url::Url,
    target: &Target,
    address: SocketAddr,
    (headers, body): (Vec<(String, String)>, Vec<u8>),
    timeout: Duration,
    body_cap: usize,
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
        client = client.dns_resolver(Arc::new(PinnedResolver {
            name: name.clone(),
            address,
        }));
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
        let room = body_cap - body.len();
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
            auth: None,
            rate: None,
            origin: Origin {
                file: "t.toml".into(),
                field: "capabilities.http[0]".into(),
                line: Some(1),
            },
        }
    }

    fn check(operation: Operation, method: &str, url: &str) -> Result<(), DenialKind> {
        let grants = [
            grant("GET", "http://127.0.0.1:*/health"),
            grant("GET", "http://127.0.0.1:*/api/*/status"),
            grant("POST", "https://api.example.com/v1/**"),
        ];
        let (_, target) = parse_target(url).map_err(|denial| denial.kind)?;
        check_http(&grants, &grants, operation, method, &target)
            .map(|_| ())
            .map_err(|denial| denial.kind)
    }

    #[test]
    fn http_matches_method_scheme_host_port_and_decoded_path() {
        use DenialKind::*;
        let apply = Operation::Apply;
        let cases: &[(&str, &str, Result<(), DenialKind>)] = &[
            ("GET", "http://127.0.0.1:8080/health", Ok(())),
            ("GET", "http://0x7f.0.0.1:8080/health", Ok(())),
            ("GET", "http://2130706433:9/health", Ok(())),
            ("GET", "http://127.1:9/x/../health", Ok(())),
            ("GET", "http://127.0.0.1:9/%68ealth", Ok(())),
            ("GET", "http://127.0.0.1:9/api/web/status", Ok(())),
            ("POST", "https://API.example.com./v1/reload", Ok(())),
            ("POST", "https://api.example.com/v1/a/b", Ok(())),
            ("POST", "http://127.0.0.1:8080/health", Err(NotInManifest)),
            ("GET", "http://127.0.0.2:8080/health", Err(NotInManifest)),
            ("GET", "http://127.0.0.1:8080/admin", Err(NotInManifest)),
            (
                "GET",
                "http://127.0.0.1:8080/health/../admin",
                Err(NotInManifest),
            ),
            (
                "GET",
                "http://127.0.0.1:9/api/web%2Fadmin/status",
                Err(Malformed),
            ),
            (
                "GET",
                "http://127.0.0.1:9/api/web%5Cadmin/status",
                Err(Malformed),
            ),
            (
                "GET",
                "http://127.0.0.1:9/api/%2e%2e/status",
                Err(NotInManifest),
            ),
            ("GET", "http://127.0.0.1:9/api/%252e%252e/status", Ok(())),
            ("GET", "http://127.0.0.1:9/api/a%00b/status", Err(Malformed)),
            (
                "POST",
                "http://api.example.com/v1/reload",
                Err(NotInManifest),
            ),
            (
                "POST",
                "https://api.example.com:8443/v1/reload",
                Err(NotInManifest),
            ),
            ("POST", "https://evil.com/v1/reload", Err(NotInManifest)),
            (
                "POST",
                "https://api.example.com.evil.com/v1/x",
                Err(NotInManifest),
            ),
            ("POST", "https://api.example.com../v1/x", Err(Malformed)),
            (
                "GET",
                "http://127.0.0.1:9/health?action=shutdown",
                Err(NotInManifest),
            ),
        ];
        for (method, url, expected) in cases {
            assert_eq!(check(apply, method, url), *expected, "{method} {url}");
        }
    }

    #[test]
    fn plan_sends_only_get_and_head() {
        assert_eq!(
            check(Operation::Plan, "POST", "https://api.example.com/v1/reload"),
            Err(DenialKind::DuringPlan)
        );
        assert_eq!(
            check(Operation::Plan, "GET", "http://127.0.0.1:1/health"),
            Ok(())
        );
    }

    #[test]
    fn the_sent_url_carries_the_checked_name() {
        let (url, target) = parse_target("https://API.Example.COM./v1/x").unwrap();
        assert_eq!(url.host_str(), Some("api.example.com"));
        assert_eq!(target.host, HostValue::Domain("api.example.com".into()));
        let (url, _) = parse_target("http://bücher.example/").unwrap();
        assert_eq!(url.host_str(), Some("xn--bcher-kva.example"));
    }

    #[test]
    fn http_refuses_userinfo_and_other_schemes() {
        assert_eq!(
            check(Operation::Apply, "GET", "http://127.0.0.1@evil.com/health"),
            Err(DenialKind::Malformed)
        );
        assert_eq!(
            check(Operation::Apply, "GET", "file:///etc/passwd"),
            Err(DenialKind::Malformed)
        );
    }

    #[test]
    fn names_must_resolve_to_public_addresses() {
        for private in [
            "127.0.0.1",
            "169.254.169.254",
            "10.1.2.3",
            "100.64.0.1",
            "198.18.0.1",
            "198.19.255.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "fe80::1",
            "fc00::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "1.1.1.1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
