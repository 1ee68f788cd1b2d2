"""Daemons' configuration checks: sshd, nginx, haproxy, apache2, postfix,
named, squid, unbound, dnsmasq, rsyslog, logrotate, visudo, systemd units,
chrony; and daemons that cannot bind a port another process holds."""
from lib import case, deb, PY, STUBS

SSHD = lambda: f"OpenSSH_{deb('openssh-server')} (sshd)"


def sshd_dir(ctx):
    d = ctx.dir("sshd")
    ctx.sh(f"ssh-keygen -q -t ed25519 -N '' -f {d}/host_ed25519 && mkdir -p /run/sshd")
    return d


@case("configuration-sshd-badoption-01", "configuration", "sshd",
      "sshd -t on an sshd_config with a misspelt keyword (PermitRootLogon).",
      SSHD, r"Bad configuration option")
def _(ctx):
    d = sshd_dir(ctx)
    ctx.write(f"{d}/sshd_config", f"Port 2201\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n"
              "PermitRootLogon no\nPasswordAuthentication no\n")
    return ctx.run(f"/usr/sbin/sshd -t -f {d}/sshd_config")


@case("configuration-sshd-badvalue-01", "configuration", "sshd",
      "sshd -t on an sshd_config whose PermitRootLogin has a value sshd does not know (maybe).",
      SSHD, r"unsupported option|Bad yes/no|invalid")
def _(ctx):
    d = sshd_dir(ctx)
    ctx.write(f"{d}/sshd_config", f"Port 2201\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n"
              "PermitRootLogin maybe\n")
    return ctx.run(f"/usr/sbin/sshd -t -f {d}/sshd_config")


@case("configuration-sshd-nohostkey-01", "configuration", "sshd",
      "sshd -t on an sshd_config whose only HostKey file does not exist.",
      SSHD, r"no hostkeys available")
def _(ctx):
    d = sshd_dir(ctx)
    ctx.write(f"{d}/sshd_config", f"Port 2201\nListenAddress 127.0.0.1\nHostKey {d}/missing_host_key\n")
    return ctx.run(f"/usr/sbin/sshd -t -f {d}/sshd_config")


@case("state_mismatch-sshd-addrinuse-01", "state_mismatch", "sshd",
      "sshd -D -e on 127.0.0.1:2202 while another process already listens on that port.",
      SSHD, r"Address already in use")
def _(ctx):
    d = sshd_dir(ctx)
    ctx.stub(2202, "--silent")
    ctx.write(f"{d}/sshd_config", f"Port 2202\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n"
              f"PidFile {d}/sshd.pid\n")
    return ctx.run(f"timeout 10 /usr/sbin/sshd -D -e -f {d}/sshd_config")


NGINX = lambda: f"nginx {deb('nginx')}"


def nginx_conf(ctx, body):
    d = ctx.dir("nginx")
    ctx.write(f"{d}/nginx.conf", "pid /tmp/medic-corpus/nginx/nginx.pid;\n"
              "error_log /tmp/medic-corpus/nginx/error.log;\nevents {}\n" + body)
    return d


@case("configuration-nginx-unknowndirective-01", "configuration", "nginx",
      "nginx -t on a config whose server block uses a directive that does not exist (proxy_timeout_read).",
      NGINX, r"unknown directive")
def _(ctx):
    d = nginx_conf(ctx, "http {\n  server {\n    listen 127.0.0.1:18080;\n    location / {\n"
                   "      proxy_pass http://127.0.0.1:18081;\n      proxy_timeout_read 30s;\n    }\n  }\n}\n")
    return ctx.run(f"nginx -t -c {d}/nginx.conf")


@case("configuration-nginx-nocert-01", "configuration", "nginx",
      "nginx -t on a TLS server block whose ssl_certificate file does not exist.",
      NGINX, r"cannot load certificate")
def _(ctx):
    d = nginx_conf(ctx, "http {\n  server {\n    listen 127.0.0.1:18443 ssl;\n"
                   "    ssl_certificate /etc/ssl/medic/site.crt;\n    ssl_certificate_key /etc/ssl/medic/site.key;\n  }\n}\n")
    return ctx.run(f"nginx -t -c {d}/nginx.conf")


@case("configuration-nginx-unbalanced-01", "configuration", "nginx",
      "nginx -t on a config missing the closing brace of its http block.",
      NGINX, r"unexpected end of file")
def _(ctx):
    d = nginx_conf(ctx, "http {\n  server {\n    listen 127.0.0.1:18080;\n    root /var/www/html;\n  }\n")
    return ctx.run(f"nginx -t -c {d}/nginx.conf")


@case("state_mismatch-nginx-addrinuse-01", "state_mismatch", "nginx",
      "nginx started in the foreground on 127.0.0.1:18082 while another process already listens there.",
      NGINX, r"Address already in use")
def _(ctx):
    ctx.stub(18082, "--silent")
    d = nginx_conf(ctx, "http {\n  access_log off;\n  server {\n    listen 127.0.0.1:18082;\n  }\n}\n")
    return ctx.run(f"timeout 20 nginx -c {d}/nginx.conf -g 'daemon off; error_log stderr;'")


@case("credential-nginx-logperm-01", "credential", "nginx",
      "nginx -t run as an unprivileged user on a config whose error log is in a root-only directory.",
      NGINX, r"Permission denied")
def _(ctx):
    d = ctx.dir("nginx-user")
    ctx.sh(f"mkdir -p {d}/logs && chmod 700 {d}/logs && chmod 755 {d}")
    ctx.write(f"{d}/nginx.conf", f"pid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{}}\n"
              "http {\n  server {\n    listen 127.0.0.1:18083;\n  }\n}\n", mode=0o644)
    return ctx.run(f"nginx -t -c {d}/nginx.conf -e {d}/logs/error.log", user="medic-ci")


HAPROXY = lambda: f"HAProxy {deb('haproxy')}"


def hap(ctx, text):
    d = ctx.dir("haproxy")
    return ctx.write(f"{d}/haproxy.cfg", text)


@case("configuration-haproxy-keyword-01", "configuration", "haproxy",
      "haproxy -c on a config whose backend has a misspelt keyword (balanse).",
      HAPROXY, r"unknown keyword|ALERT")
def _(ctx):
    f = hap(ctx, "global\n  log stdout local0\ndefaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n"
            "  timeout connect 2s\nfrontend web\n  bind 127.0.0.1:18090\n  default_backend app\n"
            "backend app\n  balanse roundrobin\n  server a1 127.0.0.1:18091 check\n")
    return ctx.run(f"haproxy -c -f {f}")


@case("configuration-haproxy-nobackend-01", "configuration", "haproxy",
      "haproxy -c on a config whose frontend's default_backend names a backend that is not defined.",
      HAPROXY, r"unable to find required default_backend|ALERT")
def _(ctx):
    f = hap(ctx, "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 2s\n"
            "frontend web\n  bind 127.0.0.1:18090\n  default_backend api_servers\n"
            "backend api\n  server a1 127.0.0.1:18091\n")
    return ctx.run(f"haproxy -c -f {f}")


@case("state_mismatch-haproxy-addrinuse-01", "state_mismatch", "haproxy",
      "haproxy -db started with a frontend on 127.0.0.1:18092 while another process already listens there.",
      HAPROXY, r"[Aa]ddress already in use|cannot bind")
def _(ctx):
    ctx.stub(18092, "--silent")
    f = hap(ctx, "defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 2s\n"
            "frontend web\n  bind 127.0.0.1:18092\n  default_backend app\n"
            "backend app\n  server a1 127.0.0.1:18091\n")
    return ctx.run(f"timeout 10 haproxy -db -f {f}")


APACHE = lambda: f"Apache httpd {deb('apache2')} (apache2ctl)"


@case("configuration-apache2ctl-invalidcmd-01", "configuration", "apache2ctl",
      "apache2ctl configtest with a site file that uses a directive of a module that is not enabled (RewriteEngine).",
      APACHE, r"Invalid command|Syntax error")
def _(ctx):
    ctx.write("/etc/apache2/sites-enabled/medic-corpus.conf",
              "<VirtualHost 127.0.0.1:18095>\n  ServerName corpus.localhost\n  DocumentRoot /var/www/html\n"
              "  RewriteEngine On\n  RewriteRule ^/old$ /new [R=301]\n</VirtualHost>\n")
    ctx.defer(lambda: __import__("os").remove("/etc/apache2/sites-enabled/medic-corpus.conf"))
    return ctx.run("apache2ctl configtest")


@case("configuration-apache2ctl-section-01", "configuration", "apache2ctl",
      "apache2ctl -t with a site file whose <Directory> section is never closed.",
      APACHE, r"Syntax error|was not closed")
def _(ctx):
    ctx.write("/etc/apache2/sites-enabled/medic-corpus.conf",
              "<VirtualHost 127.0.0.1:18095>\n  DocumentRoot /var/www/html\n  <Directory /var/www/html>\n"
              "    Require all granted\n</VirtualHost>\n")
    ctx.defer(lambda: __import__("os").remove("/etc/apache2/sites-enabled/medic-corpus.conf"))
    return ctx.run("apache2ctl -t")


POSTFIX = lambda: f"postfix {deb('postfix')}"


@case("configuration-postmap-dicttype-01", "configuration", "postmap",
      "postmap on a lookup table named with a dictionary type postfix does not support (hashh:).",
      POSTFIX, r"unsupported dictionary type")
def _(ctx):
    d = ctx.dir("postmap")
    ctx.write(f"{d}/virtual", "info@corpus.test ops@corpus.test\n")
    return ctx.run(f"postmap hashh:{d}/virtual")


@case("configuration-postconf-unknown-01", "configuration", "postconf",
      "postconf -n on a main.cf that sets a parameter name postfix does not know (smtpd_tls_sec_level).",
      POSTFIX, r"unused parameter", zero_ok=True)
def _(ctx):
    d = ctx.dir("postconf")
    ctx.sh(f"cp /etc/postfix/master.cf {d}/")
    ctx.write(f"{d}/main.cf", "myhostname = mail.corpus.localhost\ninet_interfaces = loopback-only\n"
              "smtpd_tls_sec_level = may\nrelayhost = [127.0.0.1]:2525\n")
    return ctx.run(f"postconf -c {d} -n")


BIND = lambda: f"BIND {deb('bind9-utils')} (named-checkconf)"
BINDZ = lambda: f"BIND {deb('bind9-utils')} (named-checkzone)"


@case("configuration-named-checkconf-semicolon-01", "configuration", "named-checkconf",
      "named-checkconf on a named.conf whose options block misses a semicolon.",
      BIND, r"missing ';'|expected")
def _(ctx):
    d = ctx.dir("named")
    f = ctx.write(f"{d}/named.conf", 'options {\n  directory "/var/cache/bind";\n  listen-on { 127.0.0.1; }\n'
                  '  recursion no;\n};\nzone "corpus.test" {\n  type primary;\n  file "/etc/bind/db.corpus";\n};\n')
    return ctx.run(f"named-checkconf {f}")


@case("configuration-named-checkconf-unknown-01", "configuration", "named-checkconf",
      "named-checkconf on a named.conf that uses an option name BIND does not have (allow-recurse).",
      BIND, r"unknown option")
def _(ctx):
    d = ctx.dir("named")
    f = ctx.write(f"{d}/named.conf", 'options {\n  directory "/var/cache/bind";\n  allow-recurse { none; };\n};\n')
    return ctx.run(f"named-checkconf {f}")


@case("configuration-named-checkzone-cname-01", "configuration", "named-checkzone",
      "named-checkzone on a zone file where a name has both a CNAME and an A record and the SOA is malformed.",
      BINDZ, r"CNAME and other data|not loaded|bad")
def _(ctx):
    d = ctx.dir("named")
    f = ctx.write(f"{d}/db.corpus", "$TTL 300\n@ IN SOA ns1.corpus.test. admin.corpus.test. ( 2024010101 3600 600 86400 300 )\n"
                  "@ IN NS ns1.corpus.test.\nns1 IN A 127.0.0.1\nwww IN CNAME web.corpus.test.\nwww IN A 127.0.0.2\n")
    return ctx.run(f"named-checkzone corpus.test {f}")


@case("configuration-named-checkzone-nosoa-01", "configuration", "named-checkzone",
      "named-checkzone on a zone file that has no SOA record.",
      BINDZ, r"SOA|not loaded")
def _(ctx):
    d = ctx.dir("named")
    f = ctx.write(f"{d}/db.corpus", "$TTL 300\n@ IN NS ns1.corpus.test.\nns1 IN A 127.0.0.1\n")
    return ctx.run(f"named-checkzone corpus.test {f}")


@case("configuration-squid-parse-01", "configuration", "squid",
      "squid -k parse on a squid.conf with an unknown directive and an ACL type that does not exist.",
      lambda: f"Squid {deb('squid')}", r"(?i)unrecognized|bungled|FATAL|ERROR")
def _(ctx):
    d = ctx.dir("squid")
    f = ctx.write(f"{d}/squid.conf", "http_port 127.0.0.1:13128\nacl localnet srcc 127.0.0.0/8\n"
                  "http_access allow localnet\ncache_dirr ufs /var/spool/squid 100 16 256\n")
    return ctx.run(f"squid -k parse -f {f}")


@case("configuration-unbound-checkconf-01", "configuration", "unbound-checkconf",
      "unbound-checkconf on an unbound.conf with a misspelt attribute in its server clause.",
      lambda: f"unbound {deb('unbound')}", r"syntax error|error")
def _(ctx):
    d = ctx.dir("unbound")
    f = ctx.write(f"{d}/unbound.conf", "server:\n  interface: 127.0.0.1\n  port: 15353\n  acces-control: 127.0.0.0/8 allow\n")
    return ctx.run(f"unbound-checkconf {f}")


@case("configuration-dnsmasq-test-01", "configuration", "dnsmasq",
      "dnsmasq --test on a config file with a bad dhcp-range.",
      lambda: f"dnsmasq {deb('dnsmasq-base')}", r"(?i)bad|error|unrecognised")
def _(ctx):
    d = ctx.dir("dnsmasq")
    f = ctx.write(f"{d}/dnsmasq.conf", "listen-address=127.0.0.1\nport=15354\ndhcp-range=192.168.0.50,192.168.0.10,notatime\n")
    return ctx.run(f"dnsmasq --test --conf-file={f}")


@case("configuration-rsyslogd-n1-01", "configuration", "rsyslogd",
      "rsyslogd -N1 on a config that loads a module that does not exist and has an unbalanced action().",
      lambda: f"rsyslogd {deb('rsyslog')}", r"error|could not load")
def _(ctx):
    d = ctx.dir("rsyslog")
    f = ctx.write(f"{d}/rsyslog.conf", 'module(load="imfile_missing")\n*.* action(type="omfile" file="/tmp/medic-corpus/rsyslog/all.log"\n')
    return ctx.run(f"rsyslogd -N1 -f {f}")


@case("configuration-logrotate-badopt-01", "configuration", "logrotate",
      "logrotate -d on a config with an unknown option and a bad rotate count.",
      lambda: f"logrotate {deb('logrotate')}", r"unknown option|error")
def _(ctx):
    d = ctx.dir("logrotate")
    ctx.write(f"{d}/app.log", "line\n")
    f = ctx.write(f"{d}/app.conf", f"{d}/app.log {{\n  daily\n  rotate seven\n  compresss\n  missingok\n}}\n", mode=0o644)
    return ctx.run(f"logrotate -d -s {d}/state {f}")


@case("configuration-visudo-syntax-01", "configuration", "visudo",
      "visudo -c -f on a sudoers drop-in with a syntax error.",
      lambda: f"sudo {deb('sudo')} (visudo)", r"syntax error")
def _(ctx):
    d = ctx.dir("sudoers")
    f = ctx.write(f"{d}/deploy", "deploy ALL=(ALL) NOPASSWD /usr/bin/systemctl restart app\n", mode=0o440)
    return ctx.run(f"visudo -c -f {f}")


@case("configuration-systemd-analyze-unit-01", "configuration", "systemd-analyze",
      "systemd-analyze verify on a service unit with an unknown key and a relative ExecStart path.",
      lambda: f"systemd {deb('systemd')} (systemd-analyze)", r"Unknown key|not absolute|Neither a valid",
      zero_ok=True)
def _(ctx):
    d = ctx.dir("units")
    f = ctx.write(f"{d}/medic-app.service", "[Unit]\nDescription=corpus app\n\n[Service]\nType=simple\n"
                  "ExecStart=bin/app --port 18100\nRestartSecs=5\n\n[Install]\nWantedBy=multi-user.target\n")
    return ctx.run(f"systemd-analyze verify {f}")


@case("configuration-chronyd-badconf-01", "configuration", "chronyd",
      "chronyd -p (print config) on a chrony.conf with an invalid directive.",
      lambda: f"chronyd {deb('chrony')}", r"(?i)invalid|could not parse|fatal")
def _(ctx):
    d = ctx.dir("chrony")
    f = ctx.write(f"{d}/chrony.conf", "server 127.0.0.1 iburst\nmakestep one 3\ndriftfile /tmp/medic-corpus/chrony/drift\n")
    return ctx.run(f"chronyd -p -f {f}")


@case("state_mismatch-python-http-addrinuse-01", "state_mismatch", "python3",
      "python3 -m http.server on 127.0.0.1:18110 while another process already listens there.",
      lambda: f"CPython {deb('python3.11')}", r"Address already in use")
def _(ctx):
    ctx.stub(18110, "--silent")
    return ctx.run(f"{PY} -m http.server --bind 127.0.0.1 18110")
