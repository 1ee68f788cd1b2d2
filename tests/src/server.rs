//! A loopback HTTP/1.1 server for tests: answers with a handler and records every request,
//! so a test can assert a denied request never arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the handler answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Reply {
    /// `status` with `body`.
    pub fn new(status: u16, body: &str) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    /// A redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        Reply {
            status: 302,
            headers: vec![("Location".to_string(), location.to_string())],
            body: String::new(),
        }
    }
}

type Handler = dyn Fn(&str, &str, &[(String, String)], &[u8]) -> Reply + Send + Sync;

/// A running server on 127.0.0.1 and an ephemeral port; stops when dropped.
pub struct Server {
    address: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<String>>>,
    hosts: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Start serving; `handler(method, path, body)` answers each request.
    pub fn start(handler: impl Fn(&str, &str, &[u8]) -> Reply + Send + Sync + 'static) -> Server {
        Self::start_with_headers(move |method, path, _, body| handler(method, path, body))
    }

    /// A server that answers every request with its request line and headers as the body
    /// (as a server that reflects what it was sent would), and one header `x-echo` holding
    /// its `authorization`.
    pub fn echo() -> Server {
        Self::start_with_headers(|method, path, headers, _| {
            let mut body = format!("{method} {path}\n");
            let mut reply = Reply::new(200, "");
            for (name, value) in headers {
                body.push_str(&format!("{name}: {value}\n"));
                if name.eq_ignore_ascii_case("authorization") {
                    reply.headers.push(("x-echo".to_string(), value.clone()));
                }
            }
            reply.body = body;
            reply
        })
    }

    /// Start serving; `handler(method, path, headers, body)` answers each request.
    pub fn start_with_headers(
        handler: impl Fn(&str, &str, &[(String, String)], &[u8]) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (hits, bodies, hosts, stop) =
                (hits.clone(), bodies.clone(), hosts.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = serve(stream, &*handler, &hits, &bodies, &hosts);
                    }
                }
            })
        };
        Server {
            address,
            hits,
            bodies,
            hosts,
            stop,
            thread: Some(thread),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.address.port())
    }

    /// Every request so far, as `METHOD /path`.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }

    /// Every request body so far, as text.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("bodies").clone()
    }

    /// The `Host` header of every request so far.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.lock().expect("hosts").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    handler: &Handler,
    hits: &Mutex<Vec<String>>,
    bodies: &Mutex<Vec<String>>,
    hosts: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut length = 0usize;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("host") {
                hosts.lock().expect("hosts").push(value.trim().to_string());
            }
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    hits.lock().expect("hits").push(format!("{method} {path}"));
    bodies
        .lock()
        .expect("bodies")
        .push(String::from_utf8_lossy(&body).into_owned());
    let reply = handler(&method, &path, &headers, &body);
    let mut response = format!(
        "HTTP/1.1 {} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&reply.body);
    let mut stream = stream;
    stream.write_all(response.as_bytes())?;
    stream.flush()
}
