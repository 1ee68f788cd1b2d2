"""TLS clients (openssl s_client, curl, wget, gnutls-cli, python) against
loopback servers with expired, self-signed and wrong-host certificates,
and closed or silent ports.  Keys and certificates are made at run time
under /tmp/medic-corpus/pki and never committed."""
import os
from lib import case, deb, pymod, PY

P = "/tmp/medic-corpus/pki"
OPENSSL = lambda: f"OpenSSL {deb('openssl')} (s_client)"
CURL = lambda: f"curl {deb('curl')}"
WGET = lambda: f"GNU Wget {deb('wget')}"
GNUTLS = lambda: f"gnutls-cli {deb('gnutls-bin')}"


def pki(ctx):
    """A CA; a good localhost cert, an expired one, one for another host; a self-signed one."""
    if os.path.exists(f"{P}/done"):
        return
    os.makedirs(P, exist_ok=True)
    ctx.sh(f"""cd {P} &&
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj '/CN=Medic Corpus CA' 2>/dev/null &&
mkdir -p db && : > db/index.txt && echo 1000 > db/serial &&
printf '[ca]\\ndefault_ca=c\\n[c]\\ndir={P}\\ndatabase=$dir/db/index.txt\\nserial=$dir/db/serial\\nnew_certs_dir=$dir/db\\ncertificate=$dir/ca.crt\\nprivate_key=$dir/ca.key\\ndefault_md=sha256\\npolicy=p\\ncopy_extensions=copy\\nunique_subject=no\\n[p]\\ncommonName=supplied\\n' > ca.cnf &&
for n in good expired otherhost; do
  cn=localhost; [ $n = otherhost ] && cn=build.corp.example
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj "/CN=$cn" -addext "subjectAltName=DNS:$cn" 2>/dev/null
done &&
openssl ca -batch -config ca.cnf -in good.csr -out good.crt -days 10 2>/dev/null &&
openssl ca -batch -config ca.cnf -in otherhost.csr -out otherhost.crt -days 10 2>/dev/null &&
openssl ca -batch -config ca.cnf -in expired.csr -out expired.crt -startdate 20240101000000Z -enddate 20240201000000Z 2>/dev/null &&
openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.crt -days 10 -subj '/CN=localhost' -addext 'subjectAltName=DNS:localhost' 2>/dev/null &&
touch done""")


def tls(ctx, port, name):
    pki(ctx)
    ctx.stub(port, "--status", "200", "--body", "ok", "--tls", f"{P}/{name}.crt", f"{P}/{name}.key")


@case("network-openssl-selfsigned-01", "network", "openssl",
      "openssl s_client -verify_return_error to a loopback TLS server with a self-signed certificate.",
      OPENSSL, r"verify error|self.signed|self-signed")
def _(ctx):
    tls(ctx, 18900, "self")
    return ctx.run("openssl s_client -connect 127.0.0.1:18900 -servername localhost -verify_return_error -brief </dev/null")


@case("network-openssl-expired-01", "network", "openssl",
      "openssl s_client -verify_return_error with the right CA to a loopback server whose certificate expired.",
      OPENSSL, r"certificate has expired")
def _(ctx):
    tls(ctx, 18901, "expired")
    return ctx.run(f"openssl s_client -connect 127.0.0.1:18901 -servername localhost -CAfile {P}/ca.crt -verify_return_error -brief </dev/null")


@case("network-openssl-refused-01", "network", "openssl",
      "openssl s_client to a closed loopback port.",
      OPENSSL, r"Connection refused|connect:errno")
def _(ctx):
    ctx.closed(18902)
    return ctx.run("openssl s_client -connect 127.0.0.1:18902 </dev/null")


@case("network-curl-expired-01", "network", "curl",
      "curl --cacert with the right CA to a loopback HTTPS server whose certificate has expired.",
      CURL, r"expired")
def _(ctx):
    tls(ctx, 18903, "expired")
    return ctx.run(f"curl -sS --cacert {P}/ca.crt https://localhost:18903/artifact.tar.gz -o /dev/null")


@case("network-curl-hostname-01", "network", "curl",
      "curl --cacert with the right CA to a loopback HTTPS server whose certificate is for another host name.",
      CURL, r"(?i)subject|no alternative certificate subject name|does not match")
def _(ctx):
    tls(ctx, 18904, "otherhost")
    return ctx.run(f"curl -sS --cacert {P}/ca.crt https://localhost:18904/api/v1/health")


@case("network-curl-selfsigned-01", "network", "curl",
      "curl to a loopback HTTPS server with a self-signed certificate, system CA bundle only.",
      CURL, r"self.signed|self-signed|certificate")
def _(ctx):
    tls(ctx, 18905, "self")
    return ctx.run("curl -sS https://localhost:18905/")


@case("network-wget-hostname-01", "network", "wget",
      "wget --ca-certificate with the right CA to a loopback HTTPS server whose certificate names another host.",
      WGET, r"doesn't match|does not match")
def _(ctx):
    tls(ctx, 18906, "otherhost")
    return ctx.run(f"wget --tries=1 --ca-certificate={P}/ca.crt -O /dev/null https://localhost:18906/release.tgz")


@case("network-wget-selfsigned-01", "network", "wget",
      "wget to a loopback HTTPS server with a self-signed certificate.",
      WGET, r"self-signed|self signed|not trusted|cannot verify")
def _(ctx):
    tls(ctx, 18907, "self")
    return ctx.run("wget --tries=1 -O /dev/null https://localhost:18907/release.tgz")


@case("timeout-wget-read-01", "timeout", "wget",
      "wget --timeout=3 --tries=2 of an artifact from a loopback listener that accepts and never answers.",
      WGET, r"timed out")
def _(ctx):
    ctx.stub(18908, "--silent")
    return ctx.run("wget --timeout=3 --tries=2 --waitretry=0 -O /dev/null http://127.0.0.1:18908/release.tgz")


@case("network-gnutls-cli-expired-01", "network", "gnutls-cli",
      "gnutls-cli with the right CA to a loopback server whose certificate has expired.",
      GNUTLS, r"(?i)expired|verification failed")
def _(ctx):
    tls(ctx, 18909, "expired")
    return ctx.run(f"gnutls-cli --x509cafile={P}/ca.crt -p 18909 localhost </dev/null")


@case("network-gnutls-cli-selfsigned-01", "network", "gnutls-cli",
      "gnutls-cli to a loopback server with a self-signed certificate.",
      GNUTLS, r"(?i)not trusted|verification failed|signer")
def _(ctx):
    tls(ctx, 18910, "self")
    return ctx.run("gnutls-cli -p 18910 localhost </dev/null")


@case("network-gnutls-cli-refused-01", "network", "gnutls-cli",
      "gnutls-cli to a closed loopback port.",
      GNUTLS, r"(?i)refused|could not connect")
def _(ctx):
    ctx.closed(18911)
    return ctx.run("gnutls-cli -p 18911 localhost </dev/null")


@case("network-python-requests-hostname-01", "network", "python3",
      "a Python deploy hook using requests with the right CA bundle against a loopback server whose certificate names another host.",
      lambda: f"requests {pymod('requests')}; CPython 3.11.7", r"SSLError|CERTIFICATE_VERIFY_FAILED|match")
def _(ctx):
    tls(ctx, 18912, "otherhost")
    d = ctx.dir("py-requests")
    f = ctx.write(f"{d}/hook.py", "import requests\n\nr = requests.post('https://localhost:18912/hooks/deploy', json={'ref': 'main'},\n"
                  f"                  verify='{P}/ca.crt', timeout=5)\nprint(r.status_code)\n")
    return ctx.run(f"python3 {f}")


@case("credential-curl-401-01", "credential", "curl",
      "curl -f with basic auth to a loopback artifact server that answers 401 Unauthorized.",
      CURL, r"401")
def _(ctx):
    ctx.stub(18913, "--status", "401", "--header", "'WWW-Authenticate: Basic realm=\"artifacts\"'")
    return ctx.run("curl -sS -f -u ci:expired-token -o /dev/null http://127.0.0.1:18913/artifacts/app-1.4.2.tar.gz")
