"""Databases and their clients: PostgreSQL 15, MariaDB, Redis, on loopback."""
import os, subprocess
import lib
from lib import case, deb

PGBIN = "/usr/lib/postgresql/15/bin"
PGPORT = 15440
PSQL = lambda: f"psql (PostgreSQL) {deb('postgresql-client-15')}"
_pg = {"made": False}


def pg_cluster(ctx):
    """A throw-away cluster 15/corpus on 127.0.0.1:15440 with roles app (password) and intruder."""
    if not _pg["made"]:
        subprocess.run("pg_dropcluster --stop 15 corpus", shell=True, capture_output=True)
        ctx.sh(f"pg_createcluster 15 corpus -p {PGPORT} --start-conf=manual")
        conf = "/etc/postgresql/15/corpus"
        ctx.sh(f"echo \"listen_addresses = '127.0.0.1'\" >> {conf}/postgresql.conf")
        ctx.write(f"{conf}/pg_hba.conf", "local all postgres peer\nlocal all all md5\n"
                  "host all intruder 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 scram-sha-256\n")
        lib.AT_EXIT.append(lambda: subprocess.run("pg_dropcluster --stop 15 corpus", shell=True))
        _pg["made"] = True
    pg_start(ctx)
    ctx.sh("runuser -u postgres -- psql -p 15440 -q -c \"DROP DATABASE IF EXISTS appdb\" "
           "-c \"DROP ROLE IF EXISTS app\" -c \"DROP ROLE IF EXISTS intruder\" "
           "-c \"CREATE ROLE app LOGIN PASSWORD 'app-secret'\" -c \"CREATE ROLE intruder LOGIN PASSWORD 'x'\" "
           "-c \"CREATE DATABASE appdb OWNER postgres\"")


def pg_start(ctx):
    subprocess.run("pg_ctlcluster 15 corpus start", shell=True, capture_output=True)


def pg_stop(ctx):
    subprocess.run("pg_ctlcluster 15 corpus stop -m fast", shell=True, capture_output=True)


def pgsql(ctx, sql, db="appdb"):
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-p", str(PGPORT), "-d", db, "-q",
                    "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


APP = {"PGPASSWORD": "app-secret"}


@case("service_dependency-psql-socket-01", "service_dependency", "psql",
      "psql over the Unix socket to the cluster's port 15440 while that PostgreSQL cluster is stopped.",
      PSQL, r"Is the server running")
def _(ctx):
    pg_cluster(ctx)
    pg_stop(ctx)
    return ctx.run(f"psql -p {PGPORT} -U app -d appdb -c 'SELECT count(*) FROM orders'", env=APP)


@case("service_dependency-pgbench-stopped-01", "service_dependency", "pgbench",
      "pgbench -i (initialise) against 127.0.0.1:15440 while the PostgreSQL cluster is stopped.",
      lambda: f"pgbench (PostgreSQL) {deb('postgresql-15')}", r"Connection refused|Is the server running")
def _(ctx):
    pg_cluster(ctx)
    pg_stop(ctx)
    return ctx.run(f"{PGBIN}/pgbench -i -h 127.0.0.1 -p {PGPORT} -U app appdb", env=APP)


@case("service_dependency-pytest-postgres-01", "service_dependency", "pytest",
      "pytest on a repository-layer test suite whose fixture connects to PostgreSQL on 127.0.0.1:15440, which is stopped.",
      lambda: f"pytest {lib.pymod('pytest')}; psycopg2 {lib.pymod('psycopg2-binary')}; CPython 3.11.7",
      r"OperationalError|Connection refused")
def _(ctx):
    pg_cluster(ctx)
    pg_stop(ctx)
    d = ctx.dir("pytest-pg")
    ctx.write(f"{d}/tests/conftest.py", "import os, psycopg2, pytest\n\n\n@pytest.fixture\ndef db():\n"
              "    conn = psycopg2.connect(host='127.0.0.1', port=15440, dbname='appdb', user='app',\n"
              "                            password=os.environ.get('PGPASSWORD', ''))\n    yield conn\n    conn.close()\n")
    ctx.write(f"{d}/tests/test_orders.py", "def test_insert_order(db):\n    cur = db.cursor()\n"
              "    cur.execute('INSERT INTO orders (sku) VALUES (%s) RETURNING id', ('A-1',))\n    assert cur.fetchone()[0] > 0\n\n\n"
              "def test_list_orders(db):\n    cur = db.cursor()\n    cur.execute('SELECT id FROM orders')\n    assert cur.fetchall() is not None\n\n\n"
              "def test_order_total():\n    assert round(19.99 * 3, 2) == 59.97\n")
    return ctx.run("python3 -m pytest -q -p no:cacheprovider tests", cwd=d, env=APP)


@case("state_mismatch-postgres-addrinuse-01", "state_mismatch", "postgres",
      "postgres started by hand on port 15441 of 127.0.0.1 while another process already listens there.",
      lambda: f"postgres {deb('postgresql-15')}", r"Address already in use")
def _(ctx):
    d = ctx.dir("pg-second", mode=0o755)
    ctx.sh(f"chown postgres: {d} && runuser -u postgres -- {PGBIN}/initdb -D {d}/data -A trust")
    ctx.stub(15441, "--silent")
    return ctx.run(f"timeout 20 {PGBIN}/postgres -D {d}/data -p 15441 -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={d}", user="postgres")


@case("configuration-postgres-unknownparam-01", "configuration", "postgres",
      "postgres started by hand with -c shared_bufers=256MB, a parameter name that does not exist.",
      lambda: f"postgres {deb('postgresql-15')}", r"unrecognized configuration parameter")
def _(ctx):
    d = ctx.dir("pg-third", mode=0o755)
    ctx.sh(f"chown postgres: {d} && runuser -u postgres -- {PGBIN}/initdb -D {d}/data -A trust")
    return ctx.run(f"timeout 20 {PGBIN}/postgres -D {d}/data -p 15442 -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={d} -c shared_bufers=256MB", user="postgres")


@case("storage-pg_dump-full-01", "storage", "pg_dump",
      "pg_dump -f of a database with 2 MB of rows to a file on a 256 KiB tmpfs.",
      lambda: f"pg_dump (PostgreSQL) {deb('postgresql-client-15')}", r"No space left on device")
def _(ctx):
    pg_cluster(ctx)
    pgsql(ctx, "CREATE TABLE events AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 40000) g")
    d = ctx.tmpfs("pgdump-full", size="256k")
    return ctx.run(f"pg_dump -p {PGPORT} -f {d}/appdb.sql appdb", user="postgres")


@case("credential-psql-tableperm-01", "credential", "psql",
      "psql as role app selecting from a table owned by postgres on which app has no privilege.",
      PSQL, r"permission denied")
def _(ctx):
    pg_cluster(ctx)
    pgsql(ctx, "CREATE TABLE payroll (id int, amount numeric); INSERT INTO payroll VALUES (1, 100)")
    return ctx.run(f"psql -h 127.0.0.1 -p {PGPORT} -U app -d appdb -v ON_ERROR_STOP=1 "
                   "-c 'SELECT sum(amount) FROM payroll'", env=APP)


@case("credential-psql-hbareject-01", "credential", "psql",
      "psql over TCP as a role that pg_hba.conf rejects for 127.0.0.1.",
      PSQL, r"pg_hba.conf rejects")
def _(ctx):
    pg_cluster(ctx)
    return ctx.run(f"psql -h 127.0.0.1 -p {PGPORT} -U intruder -d appdb -c 'SELECT 1'", env={"PGPASSWORD": "x"})


@case("timeout-psql-statement-01", "timeout", "psql",
      "psql running a 5-second query under statement_timeout = 1s.",
      PSQL, r"statement timeout")
def _(ctx):
    pg_cluster(ctx)
    return ctx.run(f"psql -h 127.0.0.1 -p {PGPORT} -U app -d appdb -v ON_ERROR_STOP=1 "
                   "-c 'SET statement_timeout = 1000' -c 'SELECT pg_sleep(5)'", env=APP)


@case("state_mismatch-createdb-exists-01", "state_mismatch", "createdb",
      "createdb of a database (appdb) that already exists.",
      lambda: f"createdb (PostgreSQL) {deb('postgresql-client-15')}", r"already exists")
def _(ctx):
    pg_cluster(ctx)
    return ctx.run(f"createdb -p {PGPORT} appdb", user="postgres")


@case("state_mismatch-psql-duplicatekey-01", "state_mismatch", "psql",
      "psql running a seed script that inserts a row whose primary key is already present.",
      PSQL, r"duplicate key")
def _(ctx):
    pg_cluster(ctx)
    pgsql(ctx, "CREATE TABLE plans (code text PRIMARY KEY, price int); INSERT INTO plans VALUES ('pro', 20); "
          "GRANT ALL ON plans TO app")
    d = ctx.dir("pg-seed")
    f = ctx.write(f"{d}/seed.sql", "BEGIN;\nINSERT INTO plans VALUES ('free', 0);\nINSERT INTO plans VALUES ('pro', 25);\nCOMMIT;\n")
    return ctx.run(f"psql -h 127.0.0.1 -p {PGPORT} -U app -d appdb -v ON_ERROR_STOP=1 -f {f}", env=APP)


# ---- MariaDB ---------------------------------------------------------------
MYPORT = 13306
MYDIR = "/tmp/medic-corpus/mariadb"
MARIADB = lambda: f"mariadb client {deb('mariadb-client')}"
MARIADBD = lambda: f"mariadbd {deb('mariadb-server')}"
_my = {"made": False}


def my_start(ctx, extra=""):
    if not _my["made"]:
        subprocess.run(["rm", "-rf", MYDIR])
        os.makedirs(MYDIR)
        ctx.sh(f"chown mysql: {MYDIR} && mariadb-install-db --no-defaults --user=mysql --datadir={MYDIR}/data "
               "--auth-root-authentication-method=normal --skip-test-db")
        _my["made"] = True
    lib.AT_EXIT.append(lambda: my_stop())
    p = ctx.bg(f"mariadbd --no-defaults --user=mysql --datadir={MYDIR}/data --socket={MYDIR}/mysqld.sock "
               f"--pid-file={MYDIR}/mysqld.pid --port={MYPORT} --bind-address=127.0.0.1 {extra}", port=MYPORT)
    ctx.sh(f"mariadb --no-defaults -S {MYDIR}/mysqld.sock -u root -e \"DROP DATABASE IF EXISTS shop; CREATE DATABASE shop; "
           "CREATE OR REPLACE USER app@'127.0.0.1' IDENTIFIED BY 'app-secret'; GRANT SELECT, INSERT ON shop.* TO app@'127.0.0.1'; "
           "CREATE TABLE shop.skus (code VARCHAR(16) PRIMARY KEY, qty INT); INSERT INTO shop.skus VALUES ('A-1', 3); "
           "CREATE TABLE shop.audit (id INT);\"")
    return p


def my_stop():
    subprocess.run(f"mariadb-admin --no-defaults -S {MYDIR}/mysqld.sock -u root shutdown", shell=True, capture_output=True)


@case("service_dependency-mariadb-stopped-01", "service_dependency", "mariadb",
      "mariadb client over TCP to 127.0.0.1:13306 where no MariaDB server runs.",
      MARIADB, r"Can't connect")
def _(ctx):
    ctx.closed(MYPORT)
    return ctx.run(f"mariadb --no-defaults -h 127.0.0.1 -P {MYPORT} -u app -papp-secret shop -e 'SELECT * FROM skus'")


@case("credential-mariadb-password-01", "credential", "mariadb",
      "mariadb client with the wrong password for user app on a running MariaDB server.",
      MARIADB, r"Access denied")
def _(ctx):
    my_start(ctx)
    return ctx.run(f"mariadb --no-defaults -h 127.0.0.1 -P {MYPORT} -u app -pwrong-secret shop -e 'SELECT 1'")


@case("credential-mariadb-grant-01", "credential", "mariadb",
      "mariadb client as a user granted only SELECT and INSERT running a DELETE.",
      MARIADB, r"command denied")
def _(ctx):
    my_start(ctx)
    return ctx.run(f"mariadb --no-defaults -h 127.0.0.1 -P {MYPORT} -u app -papp-secret shop -e 'DELETE FROM skus'")


@case("state_mismatch-mariadb-duplicate-01", "state_mismatch", "mariadb",
      "mariadb client inserting a row whose primary key already exists.",
      MARIADB, r"Duplicate entry")
def _(ctx):
    my_start(ctx)
    return ctx.run(f"mariadb --no-defaults -h 127.0.0.1 -P {MYPORT} -u app -papp-secret shop "
                   "-e \"INSERT INTO skus VALUES ('B-2', 1); INSERT INTO skus VALUES ('A-1', 5)\"")


@case("timeout-mariadb-handshake-01", "timeout", "mariadb",
      "mariadb client with --connect-timeout=2 to a loopback listener that accepts and never sends a greeting.",
      MARIADB, r"Lost connection|timed out|system error")
def _(ctx):
    ctx.stub(13307, "--silent")
    return ctx.run("mariadb --no-defaults --connect-timeout=2 -h 127.0.0.1 -P 13307 -u app -papp-secret shop -e 'SELECT 1'")


@case("configuration-mariadbd-unknownvar-01", "configuration", "mariadbd",
      "mariadbd started with an option name that does not exist (--innodb-bufer-pool-size).",
      MARIADBD, r"unknown variable|unknown option")
def _(ctx):
    if not _my["made"]:
        my_start(ctx)
        my_stop()
    return ctx.run(f"timeout 30 mariadbd --no-defaults --user=mysql --datadir={MYDIR}/data --socket={MYDIR}/x.sock "
                   f"--port=13308 --bind-address=127.0.0.1 --innodb-bufer-pool-size=64M")


@case("state_mismatch-mariadbd-addrinuse-01", "state_mismatch", "mariadbd",
      "mariadbd started on 127.0.0.1:13309 while another process already listens on that port.",
      MARIADBD, r"Address already in use|Bind on TCP/IP port")
def _(ctx):
    if not _my["made"]:
        my_start(ctx)
        my_stop()
    ctx.stub(13309, "--silent")
    return ctx.run(f"timeout 30 mariadbd --no-defaults --user=mysql --datadir={MYDIR}/data --socket={MYDIR}/y.sock "
                   f"--pid-file={MYDIR}/y.pid --port=13309 --bind-address=127.0.0.1")


@case("storage-mariadb-dump-devfull-01", "storage", "mariadb-dump",
      "mariadb-dump of a database with its output redirected to /dev/full.",
      lambda: f"mariadb-dump {deb('mariadb-client')}", r"errno 28|No space left")
def _(ctx):
    my_start(ctx)
    ctx.sh(f"mariadb --no-defaults -S {MYDIR}/mysqld.sock -u root shop -e \"INSERT INTO audit SELECT seq FROM seq_1_to_20000\"")
    return ctx.run(f"mariadb-dump --no-defaults -S {MYDIR}/mysqld.sock -u root shop > /dev/full")


# ---- Redis -----------------------------------------------------------------
REDIS = lambda: f"redis-server {deb('redis-server')}"
RCLI = lambda: f"redis-cli {deb('redis-tools')}"


def redis(ctx, port, extra="", dirname="redis"):
    d = ctx.dir(dirname)
    f = ctx.write(f"{d}/redis.conf", f"bind 127.0.0.1\nport {port}\ndir {d}\ndaemonize no\n{extra}")
    ctx.bg(f"redis-server {f}", port=port)
    return d


@case("configuration-redis-server-directive-01", "configuration", "redis-server",
      "redis-server with a redis.conf that has a misspelt directive (maxmemory-polcy).",
      REDIS, r"FATAL CONFIG FILE ERROR|Bad directive")
def _(ctx):
    d = ctx.dir("redis")
    f = ctx.write(f"{d}/redis.conf", f"bind 127.0.0.1\nport 16380\ndir {d}\nmaxmemory 64mb\nmaxmemory-polcy allkeys-lru\n")
    return ctx.run(f"timeout 10 redis-server {f}")


@case("state_mismatch-redis-server-addrinuse-01", "state_mismatch", "redis-server",
      "redis-server on 127.0.0.1:16381 while another process already listens there.",
      REDIS, r"Address already in use")
def _(ctx):
    ctx.stub(16381, "--silent")
    d = ctx.dir("redis")
    f = ctx.write(f"{d}/redis.conf", f"bind 127.0.0.1\nport 16381\ndir {d}\n")
    return ctx.run(f"timeout 10 redis-server {f}")


@case("credential-redis-cli-wrongpass-01", "credential", "redis-cli",
      "redis-cli -a with a wrong password against a redis-server that has requirepass set.",
      RCLI, r"WRONGPASS|invalid password|AUTH failed", zero_ok=True)
def _(ctx):
    redis(ctx, 16382, "requirepass s3cret-pass\n")
    return ctx.run("redis-cli -h 127.0.0.1 -p 16382 --no-auth-warning -a not-the-pass SET deploy:lock 1")


@case("credential-redis-cli-noauth-01", "credential", "redis-cli",
      "redis-cli without a password against a redis-server that has requirepass set.",
      RCLI, r"NOAUTH", zero_ok=True)
def _(ctx):
    redis(ctx, 16383, "requirepass s3cret-pass\n")
    return ctx.run("redis-cli -h 127.0.0.1 -p 16383 GET feature:flags")


@case("resource_exhaustion-redis-cli-maxmemory-01", "resource_exhaustion", "redis-cli",
      "a bash step loading 20 KB values with redis-cli into a redis-server with maxmemory 2mb and noeviction.",
      RCLI, r"OOM command not allowed", zero_ok=True)
def _(ctx):
    redis(ctx, 16384, "maxmemory 2mb\nmaxmemory-policy noeviction\n")
    return ctx.run("set -o pipefail; for i in $(seq 1 400); do head -c 20000 /dev/zero | tr '\\0' x | "
                   "redis-cli -h 127.0.0.1 -p 16384 -x SET cache:$i | grep -v '^OK$' && exit 1; done; echo loaded")


@case("storage-redis-cli-misconf-01", "storage", "redis-cli",
      "redis-cli writes after a BGSAVE failed because the redis-server's dir is a full 256 KiB tmpfs.",
      RCLI, r"MISCONF", zero_ok=True)
def _(ctx):
    d = ctx.tmpfs("redis-full", size="256k")
    f = ctx.write(f"/tmp/medic-corpus/redis-full.conf", f"bind 127.0.0.1\nport 16385\ndir {d}\nenable-debug-command yes\n")
    ctx.bg(f"redis-server {f}", port=16385)
    ctx.sh("redis-cli -p 16385 DEBUG POPULATE 20000 key 64")
    return ctx.run("redis-cli -p 16385 BGSAVE; sleep 2; redis-cli -p 16385 INFO persistence | grep -a rdb_last_bgsave_status; "
                   "redis-cli -p 16385 SET session:42 active")


@case("service_dependency-python-redis-01", "service_dependency", "python3",
      "a Python worker using redis-py to pop jobs from 127.0.0.1:16386 where no redis-server runs.",
      lambda: f"redis-py {lib.pymod('redis')}; CPython 3.11.7",
      r"ConnectionError|Connection refused")
def _(ctx):
    ctx.closed(16386)
    d = ctx.dir("py-redis")
    f = ctx.write(f"{d}/worker.py", "import redis\n\nr = redis.Redis(host='127.0.0.1', port=16386)\n"
                  "print('worker: waiting for jobs on queue:emails')\njob = r.blpop('queue:emails', timeout=5)\nprint(job)\n")
    return ctx.run(f"python3 {f}")
