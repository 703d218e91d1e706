#!/bin/bash
# Status you can look at (issue 15): bpweb, started as root, drops to
# nobody and serves a 4-node virtual cluster's metrics and status page
# from the front end's own namespace, through the control socket.
# /metrics is `promtool check metrics` clean and carries node states,
# load, memory, cache and push bytes, remote processes per node and per
# user, link round trip, heartbeat age and the master's CPU and RSS; a
# real Prometheus (Debian's) scrapes it and its HTTP API shows the values.
# Headless Chromium loads the page: 4 tiles, `bpvcluster kill 1` turns
# tile 1 down within 2 s, a click shows a node's detail; screenshots are
# kept in out/test-artifacts/t80/.  A master that goes away shows as such,
# and bpweb follows it again when it is back.
. "$(dirname "$0")/lib.sh"

need_root
need_image
need_file "$BIN/bpweb" "$BIN/bpsh"
need_cmd curl ss node prometheus promtool chromium

ART=$TOP/out/test-artifacts/t80
TMP=$(mktemp -d /tmp/bproc-t80.XXXXXX)
on_exit "rm -rf '$TMP'"
mkdir -p "$ART"
rm -f "$ART"/*.png

# free_port: a loopback TCP port nobody listens on.
free_port() {
	local p
	for ((;;)); do
		p=$((20000 + RANDOM % 40000))
		ss -ltnH "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
}
metric() { curl -sf "$URL/metrics" | sed -n "s/^$1 //p"; }
# pquery EXPR: the value of a one-sample PromQL query, from Prometheus's API.
pquery() {
	curl -sf --data-urlencode "query=$1" "$PROM_URL/api/v1/query" |
	    sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p'
}

say "# bpvcluster up -n 4; bpweb -u nobody"
vcluster_up 4
"$BIN/bpweb" -l 127.0.0.1:0 -u nobody >"$TMP/bpweb.log" 2>&1 &
WEB=$!
on_exit "kill $WEB"
wait_for 'grep -q "serving http://" "$TMP/bpweb.log"' 10 || {
	show_log "$TMP/bpweb.log"
	die "bpweb did not say it serves"
}
URL=http://$(sed -n 's|.*serving http://\([^/]*\)/.*|\1|p' "$TMP/bpweb.log")
say "    $(grep 'serving http' "$TMP/bpweb.log")"
ids=$(awk '/^(Uid|Gid):/ { print $2, $3, $4, $5 }' "/proc/$WEB/status" | tr '\n' ' ')
check "bpweb runs as nobody:nogroup, every id ($ids)" \
    test "$ids" = "65534 65534 65534 65534 65534 65534 65534 65534 "
check "bpweb has no supplementary group but nogroup" \
    test "$(awk '/^Groups:/ { print $2 $3 }' "/proc/$WEB/status")" = 65534
check "bpweb cannot gain privileges (NoNewPrivs)" \
    test "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$WEB/status")" = 1
out=$("$BIN/bpweb" -l 127.0.0.1:0 -u root 2>&1)
check "bpweb -u root refuses to serve as root (exit $?)" \
    grep -q "does not serve as root" <<<"$out"

say "# a remote process: bpsh 0 sleep 300"
"$BIN/bpsh" 0 sleep 300 </dev/null >/dev/null 2>&1 &
SLEEP=$!
on_exit "kill $SLEEP"
wait_for '[ "$(metric "bproc_node_remote_processes{node=\"0\"}")" = 1 ]' 10 ||
    fail "bproc_node_remote_processes{node=\"0\"} is not 1"

say "# /metrics"
curl -sf "$URL/metrics" >"$TMP/metrics.txt" || die "GET /metrics failed"
cp "$TMP/metrics.txt" "$ART/metrics.txt"
if lint=$(promtool check metrics <"$TMP/metrics.txt" 2>&1) && [ -z "$lint" ]; then
	pass "promtool check metrics is clean ($(grep -vc '^#' "$TMP/metrics.txt") samples)"
else
	say "$lint" | sed 's/^/    /'
	fail "promtool check metrics complains"
fi
m() { sed -n "s/^$1 //p" "$TMP/metrics.txt"; }
check "bproc_master_up 1" test "$(m bproc_master_up)" = 1
check "bproc_nodes{state=\"up\"} 4" test "$(m 'bproc_nodes{state="up"}')" = 4
check "node 2's state is up (one-hot)" \
    test "$(m 'bproc_node_state{node="2",state="up"}')$(m 'bproc_node_state{node="2",state="down"}')" = 10
bad=
for i in 0 1 2 3; do
	for f in load1 cpus memory_total_bytes memory_free_bytes cache_bytes \
	    push_bytes_total link_rtt_seconds heartbeat_age_seconds \
	    last_seen_seconds remote_processes; do
		[ -n "$(m "bproc_node_${f}{node=\"$i\"}")" ] || bad+=" $i:$f"
	done
done
check "every node has load, cpus, memory, cache, push, rtt, heartbeat age, remote processes${bad:+ (missing$bad)}" \
    test -z "$bad"
rtt=$(m 'bproc_node_link_rtt_seconds{node="0"}')
hb=$(m 'bproc_node_heartbeat_age_seconds{node="0"}')
check "node 0: link rtt $rtt s, heartbeat age $hb s (under the 3 s timeout)" \
    awk -v r="$rtt" -v h="$hb" 'BEGIN { exit !(r > 0 && r < 1 && h >= 0 && h < 3) }'
check "node 0 has 1 remote process, user root 1" \
    test "$(m 'bproc_node_remote_processes{node="0"}')/$(m 'bproc_user_remote_processes{user="root",uid="0"}')" = 1/1
rss=$(m bproc_master_resident_memory_bytes)
cpu=$(m 'bproc_master_cpu_seconds_total{mode="user"}')
check "bpmaster's RSS ($rss bytes) and CPU ($cpu s user)" \
    awk -v r="$rss" -v c="$cpu" 'BEGIN { exit !(r > 100000 && c >= 0) }'

say "# Prometheus scrapes bpweb"
PPORT=$(free_port)
PROM_URL=http://127.0.0.1:$PPORT
cat >"$TMP/prometheus.yml" <<EOC
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: bproc
    static_configs:
      - targets: ['${URL#http://}']
EOC
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom-data" \
    --web.listen-address="127.0.0.1:$PPORT" >"$TMP/prometheus.log" 2>&1 &
PROM=$!
on_exit "kill $PROM"
if wait_for '[ "$(pquery "up{job=\"bproc\"}")" = 1 ] && [ -n "$(pquery "bproc_master_up")" ]' 40; then
	pass "Prometheus on $PROM_URL scraped bpweb (target up after $WAITED_MS ms)"
else
	show_log "$TMP/prometheus.log"
	die "Prometheus did not scrape bpweb"
fi
check "Prometheus: bproc_nodes{state=\"up\"} = 4" test "$(pquery 'bproc_nodes{state="up"}')" = 4
check "Prometheus: 4 link round trips" test "$(pquery 'count(bproc_node_link_rtt_seconds > 0)')" = 4
check "Prometheus: heartbeat ages under 3 s" test "$(pquery 'count(bproc_node_heartbeat_age_seconds < 3)')" = 4
check "Prometheus: 1 remote process of root on node 0" \
    test "$(pquery 'bproc_node_remote_processes{node="0"}')/$(pquery 'bproc_user_remote_processes{user="root"}')" = 1/1
check "Prometheus: bpmaster's RSS and CPU" \
    test "$(pquery 'bproc_master_resident_memory_bytes > 0 and on() sum(bproc_master_cpu_seconds_total) >= 0' | grep -c .)" = 1
check "Prometheus: memory of every node" test "$(pquery 'count(bproc_node_memory_total_bytes > bproc_node_memory_free_bytes)')" = 4

say "# headless Chromium: the page, bpvcluster kill 1, a click"
while read -r kind rest; do
	case $kind in
	ok:) pass "$rest" ;;
	FAIL:) fail "$rest" ;;
	*) say "    $kind $rest" ;;
	esac
done < <(timeout 120 node "$TOP/tests/integration/t80_page.js" "$URL/" "$ART" 4 1 0 \
    "sleep 300" -- "$BIN/bpvcluster" kill 1 2>&1; echo "exit: $?")
check "screenshots kept in out/test-artifacts/t80/" \
    test -s "$ART/t80-up.png" -a -s "$ART/t80-down.png" -a -s "$ART/t80-detail.png"

if wait_for '[ "$(pquery "bproc_node_state{node=\"1\",state=\"down\"}")" = 1 ]' 10; then
	pass "Prometheus: node 1 down, $WAITED_MS ms later"
else
	fail "Prometheus does not see node 1 down"
fi
check "Prometheus: bproc_nodes{state=\"up\"} = 3" test "$(pquery 'bproc_nodes{state="up"}')" = 3
check "node 1 has no load or rtt samples while down" \
    test -z "$(metric 'bproc_node_load1{node="1"}')$(metric 'bproc_node_link_rtt_seconds{node="1"}')"

say "# the master goes away: bpvcluster kill master"
"$BIN/bpvcluster" kill master 2>/dev/null || fail "bpvcluster kill master"
if wait_for '[ "$(metric bproc_master_up)" = 0 ]' 5; then
	pass "bproc_master_up 0 ${WAITED_MS} ms after bpmaster ended"
else
	fail "bproc_master_up is not 0 after bpmaster ended"
fi
check "/api/status says the master is unreachable" \
    grep -Eq '"master": \{"up": false, "error": "(cannot reach|bpmaster closed)' <<<"$(curl -sf "$URL/api/status")"
check "bpweb still runs" alive "$WEB"
"$BIN/bpvcluster" start master >/dev/null 2>&1 || fail "bpvcluster start master"
if wait_for '[ "$(metric bproc_master_up)" = 1 ]' 10; then
	pass "bpweb follows the restarted master (bproc_master_up 1 after $WAITED_MS ms)"
else
	fail "bproc_master_up is not 1 after bpvcluster start master"
fi

finish
