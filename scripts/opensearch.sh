#!/usr/bin/env bash
# scripts/opensearch.sh start|stop|status|install|url
#
# Runs a REAL single-node OpenSearch for tests and benchmarks: obsplane has to
# run beside the OpenSearch that OpenChoreo ships today (2.19.x) during a
# migration, so tests talk to the real server, never to a fake.
#
# - The distribution is the integ-test-zip that OpenSearch publishes to Maven
#   Central (org.opensearch.distribution.integ-test-zip:opensearch:<v>:zip),
#   fetched with mvn as a download client, pinned and sha256-checked.
#   2.19.6 is the newest 2.19.x served (2.19.7 is not).
# - The integ-test-zip carries only the transport-netty4 module. We add the
#   modules a stock OpenSearch has and that our work needs, built from the jars
#   OpenSearch publishes under org.opensearch.plugin (each jar sha256-checked):
#     lang-painless   - painless scripts (script queries/fields, update scripts)
#     reindex         - _reindex, _delete_by_query, _update_by_query (rollback,
#                       cleanup and test setup use them)
#     analysis-common - the common analyzers/tokenizers/filters beyond "standard"
#   The jars have no plugin-descriptor.properties or security policy (those are
#   written by OpenSearch's build when it packs a module), so we write both,
#   with the values of the upstream modules.
# - No security plugin is installed, so HTTP is plain and unauthenticated.
# - Cached under ${OBSPLANE_CACHE:-$HOME/.cache/obsplane}/opensearch/<version>;
#   a second run downloads nothing.
# - OpenSearch refuses to run as root. Where this script runs as root (CI, the
#   dev machines) the node is started inside a user namespace where it is uid
#   1000: it passes the check, yet on the host its files stay root-owned and it
#   can read the cache under /root without changing any permissions.
#
# Environment:
#   OPENSEARCH_PORT            HTTP port on 127.0.0.1 (default 19200)
#   OPENSEARCH_TRANSPORT_PORT  transport port on 127.0.0.1 (default HTTP port + 100)
#   OPENSEARCH_HOME_DIR        data, logs, config, snapshot repo, pid file
#                              (default <cache>/opensearch/run)
#   OPENSEARCH_HEAP            JVM heap (default 512m)
#   OPENSEARCH_JAVA_HOME       JDK to use (default: JDK 17, else Temurin 25)
#   OPENSEARCH_START_TIMEOUT   seconds to wait for green (default 120)
set -euo pipefail

OPENSEARCH_VERSION="2.19.6"
# sha256 of org.opensearch.distribution.integ-test-zip:opensearch:2.19.6:zip
OPENSEARCH_ZIP_SHA256="71d6d8b1c637f3faecda0752b184b1cc526fc6eaad59ec1408c6327bb00b9293"

# Module jars: "module groupId:artifactId:version sha256".
MODULE_JARS=(
  "lang-painless org.opensearch.plugin:lang-painless:2.19.6 e71e6c7ef99a6f5958cd0b25367acf472cc52cd49d29e13084c5ff0b5931f717"
  "lang-painless org.opensearch.plugin:opensearch-scripting-painless-spi:2.19.6 84e545b968151739f1915cfd2db24bf873edfd317d2848b87b61d0d60ec70869"
  "lang-painless org.antlr:antlr4-runtime:4.13.1 54665d2838cc66458343468efc539e454fc95b46a8a04b13c6ac43fc9be63505"
  "lang-painless org.ow2.asm:asm:9.7 adf46d5e34940bdf148ecdd26a9ee8eea94496a72034ff7141066b3eea5c4e9d"
  "lang-painless org.ow2.asm:asm-analysis:9.7 7bc6bcbc21379948a0c8c467fb0f864206e5b818f6bc0b546872f5c9f941556f"
  "lang-painless org.ow2.asm:asm-commons:9.7 389bc247958e049fc9a0408d398c92c6d370c18035120395d4cba1d9d9304b7a"
  "lang-painless org.ow2.asm:asm-tree:9.7 62f4b3bc436045c1acb5c3ba2d8ec556ec3369093d7f5d06c747eb04b56d52b1"
  "lang-painless org.ow2.asm:asm-util:9.7 37a6414d36641973f1af104937c95d6d921b2ddb4d612c66c5a9f2b13fc14211"
  "reindex org.opensearch.plugin:reindex-client:2.19.6 431d1037eadaa1fc144155b9397d4781d7b68e5b4700f68735c6a97bf52defff"
  "reindex org.opensearch.client:opensearch-rest-client:2.19.6 225987b8fd88db60f0aade505bd55b1321eb302f942e15874e2192f2d47a1d98"
  "reindex org.opensearch:opensearch-ssl-config:2.19.6 93e27cba4a85bc751f68a0c70146f341008ff6c63bfa43d5d3a41cbd4a99d59c"
  "reindex org.apache.httpcomponents:httpclient:4.5.14 c8bc7e1c51a6d4ce72f40d2ebbabf1c4b68bfe76e732104b04381b493478e9d6"
  "reindex org.apache.httpcomponents:httpcore:4.4.16 6c9b3dd142a09dc468e23ad39aad6f75a0f2b85125104469f026e52a474e464f"
  "reindex org.apache.httpcomponents:httpasyncclient:4.1.5 0c1877489a9d1ba4fa50f6cfcab11d1123618858cb31d56afaab5afdd5064d99"
  "reindex org.apache.httpcomponents:httpcore-nio:4.4.16 4018736ede2d321034e8517ea90baefb31831a8608afccc446d8a699fb1d00d4"
  "reindex commons-codec:commons-codec:1.18.0 ba005f304cef92a3dede24a38ad5ac9b8afccf0d8f75839d6c1338634cf7f6e4"
  "reindex commons-logging:commons-logging:1.2 daddea1ea0be0f56978ab3006b8ac92834afeefbd9b7e4e6316fca57df0fa636"
  "analysis-common org.opensearch.plugin:analysis-common:2.19.6 187378844d92a043b935038f9ae168f7812f686b1c1c7128f8b97731baff8a1a"
)

CACHE="${OBSPLANE_CACHE:-$HOME/.cache/obsplane}"
BASE="$CACHE/opensearch/$OPENSEARCH_VERSION"
DIST="$BASE/opensearch-$OPENSEARCH_VERSION"
RUN="${OPENSEARCH_HOME_DIR:-$CACHE/opensearch/run}"
PORT="${OPENSEARCH_PORT:-19200}"
TPORT="${OPENSEARCH_TRANSPORT_PORT:-$((PORT + 100))}"
HEAP="${OPENSEARCH_HEAP:-512m}"
START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
URL="http://127.0.0.1:$PORT"
PIDFILE="$RUN/opensearch.pid"

log() { echo "opensearch.sh: $*" >&2; }
die() { log "$*"; exit 1; }

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# mvn_fetch DEST G:A:V[:type]... — copies the listed artifacts into DEST in a
# single mvn run (one JVM start rather than one per jar), each with its
# transitive dependencies excluded: every jar we ship is listed, and
# checksummed, above.
mvn_fetch() {
  command -v mvn >/dev/null || die "mvn is needed to download OpenSearch (Debian package maven)"
  local dest="$1" gav g a v t deps=""
  shift
  for gav in "$@"; do
    IFS=: read -r g a v t <<<"$gav"
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version><type>${t:-jar}</type>"
    deps+="<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>"
  done
  mkdir -p "$dest"
  printf '%s\n' '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>' \
    '<groupId>local.obsplane</groupId><artifactId>opensearch-fetch</artifactId><version>0</version><packaging>pom</packaging>' \
    "<dependencies>$deps</dependencies></project>" >"$dest/fetch-pom.xml"
  mvn -q -B -f "$dest/fetch-pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest" -DincludeScope=runtime >&2 \
    || die "mvn could not fetch: $*"
}

install_modules() {
  local work="$1" entry mod gav sha a v jar
  for entry in "${MODULE_JARS[@]}"; do
    read -r mod gav sha <<<"$entry"
    a="$(cut -d: -f2 <<<"$gav")"; v="$(cut -d: -f3 <<<"$gav")"
    jar="$work/jars/$a-$v.jar"
    sha_ok "$jar" "$sha" || die "sha256 mismatch for $gav ($jar): got $(sha256sum "$jar" 2>/dev/null | cut -d' ' -f1), want $sha"
    mkdir -p "$work/modules/$mod"
    cp "$jar" "$work/modules/$mod/"
  done
  # Descriptors as OpenSearch's build writes them for the bundled modules.
  # java.version is the floor the node checks, not the build JDK.
  write_descriptor "$work/modules/lang-painless" lang-painless org.opensearch.painless.PainlessPlugin "" \
    "An easy, safe and fast scripting language for OpenSearch"
  write_descriptor "$work/modules/reindex" reindex org.opensearch.index.reindex.ReindexPlugin "" \
    "The Reindex module adds APIs to reindex from one index to another or update documents in place."
  # analysis-common registers a painless extension (its META-INF/services), so
  # like upstream it extends lang-painless.
  write_descriptor "$work/modules/analysis-common" analysis-common org.opensearch.analysis.common.CommonAnalysisPlugin lang-painless \
    "Adds \"built in\" analyzers to OpenSearch."
  # Security policies: painless compiles scripts into classes in its own class
  # loader; reindex-from-remote opens sockets.
  cat >"$work/modules/lang-painless/plugin-security.policy" <<'EOF'
grant {
  // needed to generate runtime classes
  permission java.lang.RuntimePermission "createClassLoader";
  // needed to find the classloader to load allowlisted classes from
  permission java.lang.RuntimePermission "getClassLoader";
};
EOF
  cat >"$work/modules/reindex/plugin-security.policy" <<'EOF'
grant {
  // reindex from remote connects to the remote cluster
  permission java.net.SocketPermission "*", "connect";
};
EOF
}

write_descriptor() {
  cat >"$1/plugin-descriptor.properties" <<EOF
description=$5
version=$OPENSEARCH_VERSION
name=$2
classname=$3
java.version=11
opensearch.version=$OPENSEARCH_VERSION
extended.plugins=$4
has.native.controller=false
EOF
}

# install: download (once), verify, unpack, add modules. Idempotent: a
# complete install is marked by .verified and reused as is.
install() {
  if [ -f "$BASE/.verified" ] && [ -x "$DIST/bin/opensearch" ]; then
    return 0
  fi
  command -v unzip >/dev/null || die "unzip is needed (Debian package unzip)"
  mkdir -p "$BASE"
  local work zip
  work="$(mktemp -d "$BASE/.dl.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  zip="$BASE/opensearch-$OPENSEARCH_VERSION.zip"
  local entry gavs=()
  for entry in "${MODULE_JARS[@]}"; do gavs+=("$(cut -d' ' -f2 <<<"$entry")"); done
  if [ ! -f "$zip" ] || ! sha_ok "$zip" "$OPENSEARCH_ZIP_SHA256"; then
    gavs+=("org.opensearch.distribution.integ-test-zip:opensearch:$OPENSEARCH_VERSION:zip")
  fi
  log "downloading OpenSearch $OPENSEARCH_VERSION (integ-test-zip, ~56 MB) and ${#MODULE_JARS[@]} module jars with mvn"
  mvn_fetch "$work/jars" "${gavs[@]}"
  if [ ! -f "$zip" ] || ! sha_ok "$zip" "$OPENSEARCH_ZIP_SHA256"; then
    mv "$work/jars/opensearch-$OPENSEARCH_VERSION.zip" "$work/"
    sha_ok "$work/opensearch-$OPENSEARCH_VERSION.zip" "$OPENSEARCH_ZIP_SHA256" \
      || die "sha256 mismatch for the OpenSearch zip: got $(sha256sum "$work/opensearch-$OPENSEARCH_VERSION.zip" | cut -d' ' -f1), want $OPENSEARCH_ZIP_SHA256"
    mv "$work/opensearch-$OPENSEARCH_VERSION.zip" "$zip"
  fi
  unzip -q "$zip" -d "$work/unpacked" || die "could not unpack $zip"
  install_modules "$work"
  cp -r "$work/modules/." "$work/unpacked/opensearch-$OPENSEARCH_VERSION/modules/"
  rm -rf "$DIST"
  mv "$work/unpacked/opensearch-$OPENSEARCH_VERSION" "$DIST"
  echo "$OPENSEARCH_VERSION $OPENSEARCH_ZIP_SHA256" >"$BASE/.verified"
  rm -rf "$work"
  trap - EXIT
  log "installed $DIST"
}

# pick_java: JDK 17 first (what OpenSearch 2.19 is tested on here), Temurin 25
# if no 17 is present or it cannot run.
pick_java() {
  local j
  for j in "${OPENSEARCH_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/temurin-17-jdk-amd64 \
           /usr/lib/jvm/temurin-25-jdk-amd64 "${JAVA_HOME:-}"; do
    if [ -n "$j" ] && [ -x "$j/bin/java" ] && "$j/bin/java" -version >/dev/null 2>&1; then
      echo "$j"; return 0
    fi
  done
  die "no usable JDK found (tried JDK 17 and Temurin 25 under /usr/lib/jvm; set OPENSEARCH_JAVA_HOME)"
}

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be this node's JVM.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "org.opensearch.bootstrap.OpenSearch" || return 1
  echo "$pid"
}

# orphan_pid: a node of this run dir that is alive without a pid file (a
# start killed before the node wrote it, or the file removed).
orphan_pid() { pgrep -f -- "-Dopensearch.path.conf=$RUN/config" | head -n 1 | grep .; }

health() { curl -fsS --max-time 5 "$URL/_cluster/health${1:-}" 2>/dev/null; }

# wait_ready: green within the deadline. A single node cannot place replicas,
# so an index created with number_of_replicas>=1 (OpenChoreo's templates use 1)
# leaves the cluster yellow forever; that is accepted once every primary is
# active, and said so.
wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT)) h pid="$1"
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$RUN/logs/console.log" >&2 || true; die "OpenSearch exited during start (log: $RUN/logs/console.log)"; }
    # Plain health: a wait_for_status that times out answers 408, which
    # curl -f turns into no output at all.
    h="$(health || true)"
    case "$h" in
      *'"status":"green"'*) echo "$h"; return 0 ;;
      *'"status":"yellow"'*)
        if h2="$(health "?wait_for_status=yellow&wait_for_no_initializing_shards=true&timeout=2s")" \
           && ! grep -q '"timed_out":true' <<<"$h2"; then
          log "cluster is yellow: replicas cannot be placed on a single node; all primaries are active"
          echo "$h2"; return 0
        fi ;;
    esac
    sleep 1
  done
  die "OpenSearch did not become green within ${START_TIMEOUT}s (log: $RUN/logs/console.log)"
}

# lock serialises start and stop per run dir: `go test ./...` runs several
# packages at once and each asks for the node; the first starts it, the
# others wait on the lock and then find it running.
lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w "$((START_TIMEOUT + 60))" 9 || die "another opensearch.sh holds $RUN/.lock for too long"
}

start() {
  local pid
  lock
  if pid="$(running_pid)"; then
    # Our node, possibly still booting (a start that was killed mid-way):
    # wait for it rather than start a second one on the same data.
    log "already running (pid $pid) at $URL"
    wait_ready "$pid" >/dev/null
    echo "$URL"; return 0
  fi
  # Adopt a node of this run dir that lost its pid file rather than start a
  # second one on the same data.
  if pid="$(orphan_pid)"; then
    log "a node of $RUN runs without a pid file (pid $pid); adopting it"
    wait_ready "$pid" >/dev/null
    echo "$pid" >"$PIDFILE"
    echo "$URL"; return 0
  fi
  if health >/dev/null; then
    die "something else answers on $URL; set OPENSEARCH_PORT to a free port"
  fi
  # The node deletes its pid file only on a clean shutdown: one that was
  # killed (kill -9, the end of a session) leaves a stale file behind, and the
  # wait below would read the dead pid and report a failed start.
  if [ -e "$PIDFILE" ]; then
    log "removing stale pid file $PIDFILE ($(cat "$PIDFILE" 2>/dev/null || true): not running)"
    rm -f "$PIDFILE"
  fi
  install
  local java_home; java_home="$(pick_java)"
  mkdir -p "$RUN/data" "$RUN/logs" "$RUN/snapshots" "$RUN/config" "$RUN/tmp"
  # Config lives in the run dir so the cached distribution stays pristine and
  # shared by every run dir.
  cp "$DIST/config/log4j2.properties" "$RUN/config/"
  mkdir -p "$RUN/config/jvm.options.d"
  # jvm.options writes gc logs and heap dumps relative to the working dir; point
  # them at the run dir and set the small heap.
  sed -e "s#^-Xms.*#-Xms$HEAP#; s#^-Xmx.*#-Xmx$HEAP#" \
      -e "s#logs/gc.log#$RUN/logs/gc.log#; s#HeapDumpPath=data#HeapDumpPath=$RUN/data#; s#logs/hs_err#$RUN/logs/hs_err#" \
      "$DIST/config/jvm.options" >"$RUN/config/jvm.options"
  cat >"$RUN/config/opensearch.yml" <<EOF
# Written by scripts/opensearch.sh; rewritten on every start.
cluster.name: obsplane-test
node.name: obsplane-test-node
discovery.type: single-node
network.host: 127.0.0.1
http.port: $PORT
transport.port: $TPORT
path.data: $RUN/data
path.logs: $RUN/logs
# Snapshot repository root: migrate cleanup archives indices here (type fs).
path.repo: ["$RUN/snapshots"]
# Disk watermarks would turn indices read-only on a nearly full dev disk.
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
EOF
  local launcher=()
  if [ "$(id -u)" = 0 ]; then
    command -v unshare >/dev/null || die "running as root needs unshare (util-linux) to drop to a non-root uid"
    launcher=(unshare --user --map-user=1000 --map-group=1000)
  fi
  log "starting OpenSearch $OPENSEARCH_VERSION on $URL (transport 127.0.0.1:$TPORT, heap $HEAP, java $java_home)"
  (
    cd "$RUN"
    export JAVA_HOME="$java_home" OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$RUN/config" OPENSEARCH_TMPDIR="$RUN/tmp"
    unset OPENSEARCH_JAVA_OPTS
    # The node must not inherit the lock, or it would hold it for its life.
    exec 9>&-
    exec setsid "${launcher[@]}" "$DIST/bin/opensearch" -p "$PIDFILE" </dev/null >"$RUN/logs/console.log" 2>&1
  ) &
  local launched=$!
  # The pid file is written by the node itself once it has booted; until then
  # watch the launcher.
  local t0=$SECONDS
  while [ ! -s "$PIDFILE" ]; do
    kill -0 "$launched" 2>/dev/null || { tail -n 30 "$RUN/logs/console.log" >&2 || true; die "OpenSearch exited during start (log: $RUN/logs/console.log)"; }
    [ $((SECONDS - t0)) -lt "$START_TIMEOUT" ] || die "no pid file after ${START_TIMEOUT}s (log: $RUN/logs/console.log)"
    sleep 0.5
  done
  pid="$(cat "$PIDFILE")"
  wait_ready "$pid" >/dev/null
  log "ready after $((SECONDS - t0))s (pid $pid)"
  echo "$URL"
}

stop() {
  local pid
  lock
  if ! pid="$(running_pid)" && ! pid="$(orphan_pid)"; then
    rm -f "$PIDFILE"
    log "not running"; return 0
  fi
  log "stopping pid $pid"
  kill -TERM "$pid"
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; log "stopped"; return 0; }
    sleep 0.5
  done
  log "pid $pid did not stop in 30s; killing"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

status() {
  local pid h
  if ! pid="$(running_pid)"; then
    echo "not running ($URL)"; return 3
  fi
  if h="$(health)"; then
    echo "running (pid $pid) at $URL: $h"
  else
    echo "pid $pid alive but $URL does not answer"; return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  install) install; echo "$DIST" ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|status|install|url" >&2; exit 2 ;;
esac
