#!/usr/bin/env bash
# Starts and stops a real upstream control plane on loopback, from the binaries build.sh makes: etcd and
# kube-apiserver (token authentication, RBAC, service-account keys, an audit log of every write), and on
# request upstream's kube-controller-manager and kube-scheduler.
#
#   upstream/control-plane.sh start DIR            etcd + kube-apiserver; writes DIR/kubeconfig, prints it
#   upstream/control-plane.sh start-controllers DIR  kube-controller-manager + kube-scheduler against it
#   upstream/control-plane.sh stop DIR             stops everything started in DIR (safe to repeat)
#
# DIR holds the keys, certificates, tokens, logs (DIR/logs/*.log), the audit log (DIR/audit.log) and the
# process ids; it is created if missing. Ports are free ones chosen at start. Needs openssl and python3
# (to find free ports); the binaries are built (or reused) by build.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -eq 2 ] || usage
command_name="$1"
dir="$2"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until URL answers 200 with the admin token, or fails after $2 seconds showing the log $3.
wait_ready() {
  local url="$1" seconds="$2" log="$3" i
  for ((i = 0; i < seconds * 5; i++)); do
    if curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $(cat "$dir/admin.token")" "$url" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  echo "control-plane.sh: $url did not become ready in ${seconds}s; the end of $log:" >&2
  tail -n 30 "$log" >&2
  return 1
}

start_process() {
  local name="$1"; shift
  "$@" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name"
}

make_credentials() {
  mkdir -p "$dir/pki" "$dir/logs" "$dir/pids"
  chmod 700 "$dir"
  local pki="$dir/pki"
  [ -f "$pki/ca.crt" ] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=themelios-upstream-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$pki/apiserver.key" \
    -out "$pki/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1\n' \
    >"$pki/apiserver.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # One token per identity: the test client and Themelios' components act as cluster admins; upstream's
  # controller-manager and scheduler as the users upstream's bootstrap RBAC roles are bound to.
  local admin kcm scheduler
  admin="$(openssl rand -hex 16)"; kcm="$(openssl rand -hex 16)"; scheduler="$(openssl rand -hex 16)"
  echo "$admin" >"$dir/admin.token"
  {
    echo "$admin,admin,admin-uid,system:masters"
    echo "$kcm,system:kube-controller-manager,kcm-uid"
    echo "$scheduler,system:kube-scheduler,scheduler-uid"
  } >"$pki/tokens.csv"
  echo "$kcm" >"$dir/kube-controller-manager.token"
  echo "$scheduler" >"$dir/kube-scheduler.token"
  # Every request that writes, with the request body: what the no-op-write check counts.
  cat >"$dir/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    verbs: ["get", "list", "watch"]
  - level: None
    resources: [{group: "coordination.k8s.io", resources: ["leases"]}]
  - level: RequestResponse
EOF
}

write_kubeconfig() {
  local file="$1" token="$2" port="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: upstream
    cluster:
      server: https://127.0.0.1:$port
      certificate-authority-data: $(base64 -w0 "$dir/pki/ca.crt")
users:
  - name: user
    user:
      token: $token
contexts:
  - name: upstream
    context: {cluster: upstream, user: user}
current-context: upstream
EOF
  chmod 600 "$file"
}

start() {
  if [ -f "$dir/pids/kube-apiserver" ] && kill -0 "$(cat "$dir/pids/kube-apiserver")" 2>/dev/null; then
    echo "control-plane.sh: a control plane already runs in $dir" >&2
    exit 1
  fi
  local bin
  bin="$("$here/build.sh")"
  make_credentials
  local etcd_port peer_port api_port
  etcd_port="$(free_port)"; peer_port="$(free_port)"; api_port="$(free_port)"
  echo "$api_port" >"$dir/apiserver.port"
  start_process etcd "$bin/etcd" --name themelios-upstream --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "themelios-upstream=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync --quota-backend-bytes 4294967296
  start_process kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" \
    --token-auth-file "$dir/pki/tokens.csv" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --endpoint-reconciler-type none \
    --audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/audit.log" \
    --audit-log-mode blocking --audit-log-format json
  write_kubeconfig "$dir/kubeconfig" "$(cat "$dir/admin.token")" "$api_port"
  wait_ready "https://127.0.0.1:$api_port/readyz" 90 "$dir/logs/kube-apiserver.log"
  echo "$dir/kubeconfig"
}

start_controllers() {
  [ -f "$dir/apiserver.port" ] || { echo "control-plane.sh: no control plane in $dir (run start first)" >&2; exit 1; }
  local bin api_port
  bin="$("$here/build.sh")"
  api_port="$(cat "$dir/apiserver.port")"
  write_kubeconfig "$dir/kube-controller-manager.kubeconfig" "$(cat "$dir/kube-controller-manager.token")" "$api_port"
  write_kubeconfig "$dir/kube-scheduler.kubeconfig" "$(cat "$dir/kube-scheduler.token")" "$api_port"
  start_process kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$dir/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --use-service-account-credentials \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --cluster-signing-cert-file "$dir/pki/ca.crt" --cluster-signing-key-file "$dir/pki/ca.key" \
    --controllers '*,-bootstrapsigner,-tokencleaner,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --node-monitor-grace-period 40s --concurrent-deployment-syncs 5
  start_process kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$dir/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
  echo "$dir/kubeconfig"
}

stop() {
  [ -d "$dir/pids" ] || return 0
  local order=(kube-scheduler kube-controller-manager kube-apiserver etcd) name pid
  for name in "${order[@]}"; do
    [ -f "$dir/pids/$name" ] || continue
    pid="$(cat "$dir/pids/$name")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pids/$name"
  done
}

case "$command_name" in
  start) start ;;
  start-controllers) start_controllers ;;
  stop) stop ;;
  *) usage ;;
esac
