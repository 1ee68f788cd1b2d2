"""The same conditions in other tools' words: connection refused, reset,
network unreachable, connect and read timeouts, names that do not resolve,
permission denied, ssh authentication and host keys, services down."""
import os
from lib import case, deb, cmdver, pymod, CI_USER, PY

CURL = lambda: f"curl {deb('curl')}"
SSH = lambda: f"OpenSSH_{deb('openssh-client')}"
JAVA = lambda: f"OpenJDK {cmdver('java -version')}"
NODE = lambda: f"Node.js {cmdver('node --version')}"
CPY = lambda: "CPython 3.11.7"

# a private network namespace: lo up, 10.20.0.0/16 unreachable, 10.30.0.0/24 on a
# tun device nobody reads (packets to 10.30.0.5 vanish, so connects time out);
# the setup's own output is discarded, only the tool's output is kept
NETNS = ("unshare -n bash -c '{ ip link set lo up; ip route add unreachable 10.20.0.0/16; "
         "ip tuntap add tun0 mode tun; ip addr add 10.30.0.1/24 dev tun0; ip link set tun0 up; } >/dev/null 2>&1; "
         "exec \"$@\"' netns ")


def sshd(ctx, port, extra=""):
    d = ctx.dir(f"sshd-{port}")
    ctx.sh(f"ssh-keygen -q -t ed25519 -N '' -f {d}/host_key && mkdir -p /run/sshd && "
           f"ssh-keygen -q -t ed25519 -N '' -f {d}/good && ssh-keygen -q -t ed25519 -N '' -f {d}/wrong && "
           f"ssh-keygen -q -t ed25519 -N '' -f {d}/other_host_key")
    ctx.write(f"{d}/sshd_config", f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
              f"AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
              f"StrictModes no\nPermitRootLogin prohibit-password\n{extra}")
    ctx.sh(f"cp {d}/good.pub {d}/authorized_keys")
    ctx.bg(f"/usr/sbin/sshd -D -e -f {d}/sshd_config", port=port)
    return d


@case("network-curl-refused-01", "network", "curl",
      "curl -sS of a metrics endpoint on a closed loopback port.",
      CURL, r"Failed to connect|Couldn't connect")
def _(ctx):
    ctx.closed(18990)
    return ctx.run("curl -sS http://127.0.0.1:18990/metrics")


@case("network-curl-reset-01", "network", "curl",
      "curl -sS to a loopback listener that accepts and resets every connection.",
      CURL, r"reset by peer|Recv failure")
def _(ctx):
    ctx.stub(18991, "--reset")
    return ctx.run("curl -sS http://127.0.0.1:18991/api/v1/jobs")


@case("network-python-reset-01", "network", "python3",
      "a Python client (urllib) calling a loopback listener that accepts and resets every connection.",
      CPY, r"ConnectionResetError|reset by peer|RemoteDisconnected")
def _(ctx):
    ctx.stub(18992, "--reset")
    return ctx.run("python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:18992/status\", timeout=5).read())'")


@case("network-java-refused-01", "network", "java",
      "a Java single-file program using java.net.http.HttpClient to call a closed loopback port.",
      JAVA, r"ConnectException")
def _(ctx):
    ctx.closed(18993)
    d = ctx.dir("java-http")
    ctx.write(f"{d}/Ping.java", "import java.net.URI;\nimport java.net.http.*;\nimport java.time.Duration;\n\npublic class Ping {\n"
              "    public static void main(String[] a) throws Exception {\n"
              "        HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();\n"
              "        HttpRequest r = HttpRequest.newBuilder(URI.create(a[0])).timeout(Duration.ofSeconds(2)).build();\n"
              "        System.out.println(c.send(r, HttpResponse.BodyHandlers.ofString()).statusCode());\n    }\n}\n")
    return ctx.run("java Ping.java http://127.0.0.1:18993/health", cwd=d)


@case("timeout-java-httptimeout-01", "timeout", "java",
      "a Java single-file HttpClient program with a 2 s request timeout against a loopback listener that never answers.",
      JAVA, r"HttpTimeoutException|timed out")
def _(ctx):
    ctx.stub(18994, "--silent")
    d = ctx.dir("java-http")
    ctx.write(f"{d}/Ping.java", "import java.net.URI;\nimport java.net.http.*;\nimport java.time.Duration;\n\npublic class Ping {\n"
              "    public static void main(String[] a) throws Exception {\n"
              "        HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();\n"
              "        HttpRequest r = HttpRequest.newBuilder(URI.create(a[0])).timeout(Duration.ofSeconds(2)).build();\n"
              "        System.out.println(c.send(r, HttpResponse.BodyHandlers.ofString()).statusCode());\n    }\n}\n")
    return ctx.run("java Ping.java http://127.0.0.1:18994/health", cwd=d)


@case("network-java-unknownhost-01", "network", "java",
      "a Java single-file program opening a socket to a host name that does not resolve.",
      JAVA, r"UnknownHostException")
def _(ctx):
    d = ctx.dir("java-dns")
    ctx.write(f"{d}/Conn.java", "import java.net.Socket;\n\npublic class Conn {\n    public static void main(String[] a) throws Exception {\n"
              "        try (Socket s = new Socket(a[0], 5432)) { System.out.println(\"connected\"); }\n    }\n}\n")
    return ctx.run("java Conn.java db.medic-corpus.invalid", cwd=d)


@case("network-perl-refused-01", "network", "perl",
      "a Perl deploy notifier using HTTP::Tiny to post to a closed loopback port.",
      lambda: f"perl {deb('perl')} (HTTP::Tiny)", r"Connection refused")
def _(ctx):
    ctx.closed(18995)
    return ctx.run("perl -MHTTP::Tiny -e 'my $r = HTTP::Tiny->new(timeout => 5)->post(\"http://127.0.0.1:18995/notify\"); "
                   "die \"notify failed: $r->{status} $r->{content}\" unless $r->{success}'")


@case("network-rsync-daemon-refused-01", "network", "rsync",
      "rsync from an rsync:// module on a closed loopback port.",
      lambda: f"rsync {deb('rsync')}", r"Connection refused")
def _(ctx):
    ctx.closed(18996)
    d = ctx.dir("rsync-pull")
    return ctx.run(f"rsync -av rsync://127.0.0.1:18996/artifacts/ {d}/")


@case("network-socat-refused-01", "network", "socat",
      "socat forwarding stdin to a closed loopback TCP port.",
      lambda: f"socat {deb('socat')}", r"Connection refused")
def _(ctx):
    ctx.closed(18997)
    return ctx.run("echo PING | socat - TCP:127.0.0.1:18997")


@case("network-ssh-refused-01", "network", "ssh",
      "ssh -p 2299 to 127.0.0.1, where no sshd listens.",
      SSH, r"Connection refused")
def _(ctx):
    ctx.closed(2299)
    return ctx.run("ssh -o BatchMode=yes -p 2299 deploy@127.0.0.1 true")


@case("network-ssh-noroute-01", "network", "ssh",
      "ssh to an address whose route is marked unreachable (in a private network namespace).",
      SSH, r"No route to host|unreachable")
def _(ctx):
    return ctx.run(NETNS + "ssh -o BatchMode=yes -o ConnectTimeout=5 deploy@10.20.0.7 true")


@case("network-wget-netunreach-01", "network", "wget",
      "wget in a private network namespace with only loopback, fetching from a 10.x address.",
      lambda: f"GNU Wget {deb('wget')}", r"Network is unreachable")
def _(ctx):
    return ctx.run("unshare -n bash -c 'ip link set lo up; exec wget --tries=1 -O /dev/null http://10.40.0.9/release.tgz'")


@case("timeout-curl-connect-01", "timeout", "curl",
      "curl --connect-timeout 2 to an address on a network where packets vanish (dummy interface in a private namespace).",
      CURL, r"[Tt]imeout|timed out")
def _(ctx):
    return ctx.run(NETNS + "curl -sS --connect-timeout 2 http://10.30.0.5:8080/health")


@case("timeout-ssh-connect-01", "timeout", "ssh",
      "ssh -o ConnectTimeout=2 to an address on a network where packets vanish (private namespace).",
      SSH, r"timed out")
def _(ctx):
    return ctx.run(NETNS + "ssh -o BatchMode=yes -o ConnectTimeout=2 deploy@10.30.0.5 true")


@case("timeout-nc-connect-01", "timeout", "nc",
      "nc -zv -w 2 port probe of an address on a network where packets vanish (private namespace).",
      lambda: f"OpenBSD netcat {deb('netcat-openbsd')}", r"timed out")
def _(ctx):
    return ctx.run(NETNS + "nc -zv -w 2 10.30.0.5 5432")


@case("timeout-python-socket-01", "timeout", "python3",
      "a Python client (urllib, timeout=2) against a loopback listener that accepts and never answers.",
      CPY, r"timed out|TimeoutError")
def _(ctx):
    ctx.stub(18998, "--silent")
    return ctx.run("python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:18998/status\", timeout=2).read())'")


@case("timeout-node-fetch-01", "timeout", "node",
      "node fetch() with AbortSignal.timeout(2000) against a loopback listener that never answers.",
      NODE, r"TimeoutError|timeout")
def _(ctx):
    ctx.stub(18999, "--silent")
    return ctx.run("node -e 'fetch(\"http://127.0.0.1:18999/api\", { signal: AbortSignal.timeout(2000) })"
                   ".then(r => console.log(r.status)).catch(e => { console.error(e); process.exit(1); })'")


@case("network-curl-resolve-01", "network", "curl",
      "curl -sS of an artifact URL whose host name does not resolve.",
      CURL, r"Could not resolve host")
def _(ctx):
    return ctx.run("curl -sS -O https://artifacts.medic-corpus.invalid/app-1.4.2.tar.gz")


@case("network-wget-resolve-01", "network", "wget",
      "wget of an artifact URL whose host name does not resolve.",
      lambda: f"GNU Wget {deb('wget')}", r"unable to resolve|failed: Name or service not known|not known")
def _(ctx):
    return ctx.run("wget --tries=1 -O /dev/null https://artifacts.medic-corpus.invalid/app-1.4.2.tar.gz")


@case("network-python-gaierror-01", "network", "python3",
      "a Python job opening a socket to a host name that does not resolve.",
      CPY, r"gaierror|Name or service not known")
def _(ctx):
    return ctx.run("python3 -c 'import socket; socket.create_connection((\"queue.medic-corpus.invalid\", 5672), timeout=5)'")


@case("network-node-enotfound-01", "network", "node",
      "node fetch() of a URL whose host name does not resolve.",
      NODE, r"ENOTFOUND")
def _(ctx):
    return ctx.run("node -e 'fetch(\"https://api.medic-corpus.invalid/v1/ping\").then(r => console.log(r.status))"
                   ".catch(e => { console.error(e); process.exit(1); })'")


@case("network-ssh-resolve-01", "network", "ssh",
      "ssh to a host name that does not resolve.",
      SSH, r"Could not resolve hostname")
def _(ctx):
    return ctx.run("ssh -o BatchMode=yes deploy@bastion.medic-corpus.invalid true")


@case("network-psql-resolve-01", "network", "psql",
      "psql to a database host name that does not resolve.",
      lambda: f"psql (PostgreSQL) {deb('postgresql-client-15')}", r"could not translate host name")
def _(ctx):
    return ctx.run("psql -h db.medic-corpus.invalid -U app -d appdb -c 'SELECT 1'")


@case("credential-cat-permission-01", "credential", "cat",
      "cat, as an unprivileged CI user, of a secrets file readable only by root.",
      lambda: f"GNU coreutils {deb('coreutils')} (cat)", r"Permission denied")
def _(ctx):
    d = ctx.dir("secrets", mode=0o755)
    ctx.write(f"{d}/deploy.env", "API_TOKEN=x\n", mode=0o600)
    return ctx.run(f"cat {d}/deploy.env", user=CI_USER)


@case("credential-python-permission-01", "credential", "python3",
      "a Python job, as an unprivileged CI user, writing its report into a directory owned by root.",
      CPY, r"PermissionError|Permission denied")
def _(ctx):
    d = ctx.dir("reports", mode=0o755)
    return ctx.run(f"/usr/bin/python3 -c 'open(\"{d}/coverage.xml\", \"w\").write(\"<coverage/>\")'", user=CI_USER)


@case("credential-bash-noexec-01", "credential", "bash",
      "a bash step running a deploy script that lacks its execute bit.",
      lambda: f"GNU bash {deb('bash')}", r"Permission denied")
def _(ctx):
    d = ctx.dir("noexec")
    ctx.write(f"{d}/deploy.sh", "#!/bin/sh\necho deploying\n", mode=0o644)
    return ctx.run("./deploy.sh production", cwd=d)


@case("credential-node-eacces-listen-01", "credential", "node",
      "a node HTTP server, run as an unprivileged user, listening on privileged port 80.",
      NODE, r"EACCES")
def _(ctx):
    return ctx.run("node -e 'require(\"http\").createServer((q, s) => s.end(\"ok\")).listen(80, \"127.0.0.1\", () => console.log(\"listening\"))'",
                   user=CI_USER)


@case("credential-ssh-keyperms-01", "credential", "ssh",
      "ssh with an identity file whose permissions are 0644.",
      SSH, r"UNPROTECTED PRIVATE KEY|too open")
def _(ctx):
    d = sshd(ctx, 2203)
    os.chmod(f"{d}/good", 0o644)
    return ctx.run(f"ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i {d}/good -p 2203 root@127.0.0.1 true")


@case("credential-ssh-hostkeychanged-01", "credential", "ssh",
      "ssh to a loopback sshd whose host key differs from the one recorded in known_hosts.",
      SSH, r"REMOTE HOST IDENTIFICATION HAS CHANGED")
def _(ctx):
    d = sshd(ctx, 2204)
    ctx.sh(f"echo \"[127.0.0.1]:2204 $(cut -d' ' -f1,2 {d}/other_host_key.pub)\" > {d}/known_hosts")
    return ctx.run(f"ssh -o BatchMode=yes -o UserKnownHostsFile={d}/known_hosts -o StrictHostKeyChecking=yes -i {d}/good -p 2204 root@127.0.0.1 true")


@case("credential-rsync-ssh-publickey-01", "credential", "rsync",
      "rsync over ssh to a loopback sshd with a key that is not in authorized_keys.",
      lambda: f"rsync {deb('rsync')}; OpenSSH_{deb('openssh-client')}", r"Permission denied")
def _(ctx):
    d = sshd(ctx, 2205)
    src = ctx.dir("rsync-ssh-src")
    ctx.write(f"{src}/index.html", "<h1>release</h1>\n")
    return ctx.run(f"rsync -av -e 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i {d}/wrong -p 2205' "
                   f"{src}/ root@127.0.0.1:/tmp/medic-corpus/rsync-ssh-dst/")


@case("credential-git-ssh-publickey-01", "credential", "git",
      "git clone over ssh from a loopback sshd with a key that is not in authorized_keys.",
      lambda: f"git {deb('git')}; OpenSSH_{deb('openssh-client')}", r"Permission denied")
def _(ctx):
    d = sshd(ctx, 2206)
    w = ctx.dir("git-ssh")
    return ctx.run(f"/usr/bin/git clone ssh://root@127.0.0.1:2206/srv/git/app.git", cwd=w,
                   env={"GIT_SSH_COMMAND": f"ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i {d}/wrong"})


@case("service_dependency-mariadb-admin-ping-01", "service_dependency", "mariadb-admin",
      "mariadb-admin ping (a readiness probe) to 127.0.0.1:13310 where no MariaDB server runs.",
      lambda: f"mariadb-admin {deb('mariadb-client')}", r"Can't connect|connect to server")
def _(ctx):
    ctx.closed(13310)
    return ctx.run("mariadb-admin --no-defaults -h 127.0.0.1 -P 13310 -u app ping")


@case("service_dependency-haproxy-503-01", "service_dependency", "curl",
      "curl -sS -i -f through a loopback haproxy whose only backend server is down.",
      lambda: f"curl {deb('curl')}; HAProxy {deb('haproxy')}", r"503")
def _(ctx):
    d = ctx.dir("haproxy-503")
    f = ctx.write(f"{d}/haproxy.cfg", "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 1s\n"
                  "frontend web\n  bind 127.0.0.1:18120\n  default_backend api\nbackend api\n  server api1 127.0.0.1:18121 check inter 500ms fall 1\n")
    ctx.closed(18121)
    ctx.bg(f"haproxy -db -f {f}", port=18120)
    import time; time.sleep(2)
    return ctx.run("curl -sS -i -f http://127.0.0.1:18120/api/orders")


@case("service_dependency-python-psycopg2-01", "service_dependency", "python3",
      "a Python migration script (psycopg2) connecting to PostgreSQL on 127.0.0.1:15443, where no server runs.",
      lambda: f"psycopg2 {pymod('psycopg2-binary')}; CPython 3.11.7", r"Connection refused|Is the server running")
def _(ctx):
    ctx.closed(15443)
    d = ctx.dir("py-migrate")
    f = ctx.write(f"{d}/migrate.py", "import psycopg2\n\nprint('applying 3 migrations to appdb')\n"
                  "conn = psycopg2.connect(host='127.0.0.1', port=15443, dbname='appdb', user='app', password='x')\n"
                  "conn.cursor().execute('CREATE TABLE IF NOT EXISTS schema_version (v int)')\n")
    return ctx.run(f"python3 {f}")
