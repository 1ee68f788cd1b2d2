//! One HTTP request, or a TCP connect check, through the host's `http` capability.
//!
//! The host parses the URL itself, checks method, scheme, host, port and path against the
//! manifest, connects only to the address it checked, follows no redirects and caps the
//! response body.
//!
//! ```no_run
//! use medic_guest_sdk::{http, Error};
//!
//! fn healthy(url: &str) -> Result<bool, Error> {
//!     match http::get(url) {
//!         Ok(response) => Ok(response.status == 200),
//!         // Not reaching the server means unhealthy; being refused is a refusal.
//!         Err(denied @ Error::Denied { .. }) => Err(denied),
//!         Err(_) => Ok(false),
//!     }
//! }
//! ```

use std::time::Duration;

use crate::Error;
use crate::bindings::medic::remediation::http as wit;

/// A request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Extra headers; `Host` and hop-by-hop headers are set by the host.
    pub headers: Vec<(String, String)>,
    /// The body, empty for none.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: &str) -> Self {
        Request {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A response, with the body cut at the host's cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code; a redirect comes back as its 3xx.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The body, up to the cap.
    pub body: Vec<u8>,
    /// The body was longer than the cap.
    pub truncated: bool,
}

impl Response {
    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header named `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Send a request.
pub fn send(request: Request) -> Result<Response, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("http::send"));
    }
    let response = wit::send(&wit::Request {
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body,
    })?;
    Ok(Response {
        status: response.status,
        headers: response.headers,
        body: response.body,
        truncated: response.truncated,
    })
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, Error> {
    send(Request::new("GET", url))
}

/// `POST url` with `body`.
pub fn post(url: &str, body: impl Into<Vec<u8>>) -> Result<Response, Error> {
    send(Request::new("POST", url).body(body))
}

/// Open a TCP connection to `host:port` and close it; returns how long the connect took.
/// Needs an http grant with method `CONNECT` and a `tcp://host:port` URL.
pub fn connect(host: &str, port: u16) -> Result<Duration, Error> {
    if cfg!(not(target_arch = "wasm32")) {
        return Err(Error::not_in_sandbox("http::connect"));
    }
    let millis = wit::connect(host, port)?;
    Ok(Duration::from_millis(u64::from(millis)))
}
