//! The real kubectl against the real `themelios apiserver` binary, over HTTPS with the generated kubeconfig.
//! Each test starts its own server on free loopback ports with a temporary data directory.

mod common;

use common::{start, start_in};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const APP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app: api, tier: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: nginx:1.25
        env: [{name: A, value: \"1\"}, {name: B, value: \"1\"}]
";

const REPLICA_SET: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  replicas: 1
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: i}]}
";

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn version_discovery_and_health() {
    let server = start();
    let version = server.ok(&["version"]);
    assert!(version.contains("Server Version: v1.33.0-themelios"), "{version}");
    let resources = server.ok(&["api-resources"]);
    for row in ["deployments", "deploy", "apps/v1", "poddisruptionbudgets", "leases", "horizontalpodautoscalers"] {
        assert!(resources.contains(row), "api-resources lacks {row}: {resources}");
    }
    assert_eq!(server.ok(&["get", "--raw", "/healthz"]), "ok");
    assert!(server.ok(&["get", "--raw", "/api/v1"]).contains("pods/eviction"));
}

#[test]
fn requests_without_the_token_are_unauthorized() {
    let server = start();
    let kubeconfig = std::fs::read_to_string(&server.kubeconfig).unwrap();
    let token = kubeconfig.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_string();
    let bad = server.write("bad-kubeconfig", &kubeconfig.replace(&token, "not-the-token"));
    let out = server.command(&["get", "pods"]).env("KUBECONFIG", &bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("You must be logged in to the server"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&server.kubeconfig).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds a token: owner-only");
    }
}

#[test]
fn create_with_protobuf_and_from_a_multi_document_file() {
    let server = start();
    assert_eq!(server.ok(&["create", "namespace", "team"]), "namespace/team created\n");
    assert_eq!(
        server.ok(&["create", "deployment", "web", "--image", "nginx", "--replicas", "3", "-n", "team"]),
        "deployment.apps/web created\n"
    );
    assert_eq!(server.ok(&["get", "deploy", "web", "-n", "team", "-o", "jsonpath={.spec.replicas}"]), "3");
    let file = server.write("app.yaml", APP);
    let out = server.ok(&["create", "-f", path_str(&file)]);
    assert_eq!(out, "configmap/settings created\ndeployment.apps/api created\n");
    let again = server.fails(&["create", "-f", path_str(&file)]);
    assert!(again.contains("Error from server (AlreadyExists): error when creating"), "{again}");
    assert!(again.contains("configmaps \"settings\" already exists"), "{again}");
    let missing = server.fails(&["create", "deployment", "x", "--image", "i", "-n", "nope"]);
    assert!(missing.contains("namespaces \"nope\" not found"), "{missing}");
}

#[test]
fn client_side_apply_is_idempotent_and_three_way() {
    let server = start();
    let file = server.write("app.yaml", APP);
    assert!(server.ok(&["apply", "-f", path_str(&file)]).contains("deployment.apps/api created"));
    let second = server.ok(&["apply", "-f", path_str(&file)]);
    assert!(second.contains("deployment.apps/api unchanged"), "{second}");
    let edited =
        APP.replace(", tier: web", "").replace("replicas: 2", "replicas: 4").replace("{name: A, value: \"1\"}, ", "");
    let file = server.write("app.yaml", &edited);
    assert!(server.ok(&["apply", "-f", path_str(&file)]).contains("deployment.apps/api configured"));
    let labels = server.ok(&["get", "deploy", "api", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, r#"{"app":"api"}"#, "the label removed from the file is removed");
    let env = server.ok(&["get", "deploy", "api", "-o", "jsonpath={.spec.template.spec.containers[0].env}"]);
    assert_eq!(env, r#"[{"name":"B","value":"1"}]"#, "the env var removed from the file is removed");
    assert_eq!(server.ok(&["get", "deploy", "api", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"]), "4 2");
}

#[test]
fn server_side_apply_conflicts_and_force() {
    let server = start();
    let file = server.write("app.yaml", APP);
    server.ok(&["apply", "-f", path_str(&file)]);
    let file = server.write("app.yaml", &APP.replace("replicas: 2", "replicas: 5"));
    let conflict = server.fails(&["apply", "--server-side", "-f", path_str(&file)]);
    // Upstream names an update's writer with its version and time: `… using apps/v1 at <time>: .spec.replicas`.
    assert!(conflict.contains(r#"conflict with "kubectl-client-side-apply" using apps/v1 at "#), "{conflict}");
    assert!(conflict.contains(": .spec.replicas"), "{conflict}");
    assert!(conflict.contains("--force-conflicts"), "{conflict}");
    assert_eq!(server.ok(&["get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"]), "2", "nothing written");
    let forced = server.ok(&["apply", "--server-side", "--force-conflicts", "-f", path_str(&file)]);
    assert!(forced.contains("deployment.apps/api serverside-applied"), "{forced}");
    assert_eq!(server.ok(&["get", "deploy", "api", "-o", "jsonpath={.spec.replicas}"]), "5");
    let fresh = server.write("fresh.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\ndata: {a: b}\n");
    assert!(server
        .ok(&["apply", "--server-side", "-f", path_str(&fresh)])
        .contains("configmap/fresh serverside-applied"));
    // A second manager applying a manifest whose metadata holds only the name shares `.metadata` with the
    // first instead of conflicting on it (a regression: the first was recorded as owning all of metadata).
    let shared =
        server.write("shared.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata: {a: b}\n");
    for manager in ["first", "second"] {
        let applied = server.ok(&["apply", "--server-side", "--field-manager", manager, "-f", path_str(&shared)]);
        assert!(applied.contains("configmap/shared serverside-applied"), "{manager}: {applied}");
    }

    // The server keeps field ownership packed; every read shows it as the tree kubectl expects.
    let owned = |json: &str| -> Vec<(String, serde_json::Value)> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let object = value.get("items").and_then(|items| items.get(0)).unwrap_or(&value);
        let entries = object["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
        entries.iter().map(|e| (e["manager"].as_str().unwrap_or("").to_string(), e["fieldsV1"].clone())).collect()
    };
    let got = owned(&server.ok(&["get", "deploy", "api", "-o", "json", "--show-managed-fields"]));
    let managers: Vec<&str> = got.iter().map(|(m, _)| m.as_str()).collect();
    assert!(managers.contains(&"kubectl"), "the server-side applier owns fields: {managers:?}");
    assert!(got.iter().all(|(_, fields)| fields.is_object()), "fieldsV1 is a JSON object on the wire: {got:?}");
    assert!(got.iter().any(|(_, fields)| fields.pointer("/f:spec/f:replicas").is_some()), "{got:?}");
    let listed = owned(&server.ok(&["get", "deploy", "-o", "json", "--show-managed-fields"]));
    assert_eq!(listed, got, "a list shows the same ownership as a get");
    let raw = server.ok(&["get", "--raw", "/apis/apps/v1/namespaces/default/deployments?watch=1&timeoutSeconds=1"]);
    let first = raw.lines().next().unwrap_or_default();
    let event: serde_json::Value = serde_json::from_str(first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(owned(&event["object"].to_string()), got, "a watch shows the same ownership as a get");
}

#[test]
fn a_list_longer_than_a_thousand_items_streams_whole_and_in_order() {
    let server = start();
    let manifest: String = (0..1200)
        .map(|i| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:04}\ndata: {{n: \"{i}\"}}\n---\n"))
        .collect();
    let file = server.write("many.yaml", &manifest);
    server.ok(&["create", "-f", path_str(&file)]);
    let raw = server.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]);
    let list: serde_json::Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}: {}", &raw[..200]));
    let names: Vec<&str> =
        list["items"].as_array().into_iter().flatten().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    let expected: Vec<String> = (0..1200).map(|i| format!("cm-{i:04}")).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("cm-")).copied().collect::<Vec<_>>(), expected);
    assert_eq!(list["kind"], "ConfigMapList");
    assert!(list["metadata"]["resourceVersion"].as_str().is_some_and(|rv| !rv.is_empty()), "{}", list["metadata"]);
    let listed = server.ok(&["get", "configmaps", "--chunk-size=0", "-o", "name"]);
    assert_eq!(listed.lines().filter(|l| l.starts_with("configmap/cm-")).count(), 1200);
}

const NODE_AND_POD: &str = "apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {node-role.kubernetes.io/worker: \"\"}
status:
  nodeInfo: {kubeletVersion: v1.33.0}
---
apiVersion: v1
kind: Pod
metadata:
  name: b-pod
  labels: {app: web}
spec:
  nodeName: node-1
  containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata:
  name: a-pod
  namespace: kube-system
  labels: {app: dns}
spec:
  containers: [{name: c, image: coredns}, {name: d, image: sidecar}]
";

#[test]
fn get_prints_upstream_table_columns() {
    let server = start();
    let file = server.write("objects.yaml", NODE_AND_POD);
    server.ok(&["create", "-f", path_str(&file)]);
    let pods = server.ok(&["get", "pods"]);
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(pods.lines().nth(1).unwrap().starts_with("b-pod   0/1     Pending   0"), "{pods}");
    let wide = server.ok(&["get", "pods", "-o", "wide"]);
    assert!(wide.lines().next().unwrap().ends_with("IP       NODE     NOMINATED NODE   READINESS GATES"), "{wide}");
    assert!(wide.contains("node-1"), "{wide}");
    let all = server.ok(&["get", "pods", "-A", "--sort-by=.metadata.name"]);
    let rows: Vec<&str> = all.lines().collect();
    assert!(rows[0].starts_with("NAMESPACE"), "{all}");
    assert!(rows[1].starts_with("kube-system   a-pod") && rows[2].starts_with("default       b-pod"), "{all}");
    assert!(server.ok(&["get", "pods", "--show-labels"]).contains("app=web"));
    let nodes = server.ok(&["get", "nodes"]);
    let node_header: Vec<&str> = nodes.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(node_header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert!(nodes.contains("worker") && nodes.contains("v1.33.0"), "{nodes}");
    server.ok(&["create", "deployment", "web", "--image", "nginx:1.27", "--replicas", "2"]);
    let deployments = server.ok(&["get", "deployments", "-o", "wide"]);
    let deployment_header: Vec<&str> = deployments.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        deployment_header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    );
    assert!(deployments.contains("0/2") && deployments.contains("nginx:1.27") && deployments.contains("app=web"));
    let empty = server.run(&["get", "jobs"]);
    assert!(String::from_utf8_lossy(&empty.stderr).contains("No resources found in default namespace."));
}

#[test]
fn output_formats() {
    let server = start();
    server.ok(&["create", "configmap", "c", "--from-literal=k=v"]);
    let yaml = server.ok(&["get", "cm", "c", "-o", "yaml"]);
    assert!(yaml.contains("kind: ConfigMap") && yaml.contains("  k: v") && yaml.contains("resourceVersion:"), "{yaml}");
    let json: serde_json::Value = serde_json::from_str(&server.ok(&["get", "cm", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "List");
    assert_eq!(json["items"][0]["data"]["k"], "v");
    assert_eq!(server.ok(&["get", "cm", "c", "-o", "jsonpath={.data.k}"]), "v");
    assert_eq!(server.ok(&["get", "cm", "-o", "name"]), "configmap/c\n");
}

#[test]
fn watch_shows_added_modified_and_deleted() {
    let server = start();
    let mut watch = server
        .command(&["get", "configmaps", "-w", "--output-watch-events"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    server.ok(&["create", "configmap", "w", "--from-literal=a=1"]);
    server.ok(&["label", "configmap", "w", "x=y"]);
    server.ok(&["delete", "configmap", "w"]);
    let stdout = watch.stdout.take().unwrap();
    let (lines, (sender, receiver)) = (BufReader::new(stdout), std::sync::mpsc::channel());
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !seen.iter().any(|l: &String| l.starts_with("DELETED")) {
        if let Ok(line) = receiver.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let events: Vec<&str> = seen.iter().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(events.starts_with(&["EVENT"]) || events.contains(&"ADDED"), "{seen:?}");
    let order: Vec<&str> = events.into_iter().filter(|e| *e != "EVENT").collect();
    assert_eq!(order, ["ADDED", "MODIFIED", "DELETED"], "{seen:?}");
}

#[test]
fn label_annotate_and_the_three_patch_types() {
    let server = start();
    server.ok(&["create", "deployment", "web", "--image", "nginx", "--replicas", "1"]);
    assert_eq!(server.ok(&["label", "deploy", "web", "env=prod"]), "deployment.apps/web labeled\n");
    assert_eq!(server.ok(&["annotate", "deploy", "web", "note=hi"]), "deployment.apps/web annotated\n");
    server.ok(&["label", "deploy", "web", "env-"]);
    assert_eq!(
        server.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.labels.env}|{.metadata.annotations.note}"]),
        "|hi"
    );
    server.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#,
    ]);
    server.ok(&["patch", "deploy", "web", "--type", "merge", "-p", r#"{"spec":{"replicas":3}}"#]);
    server.ok(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"add","path":"/spec/minReadySeconds","value":5}]"#,
    ]);
    // A failing test makes the whole patch fail, with upstream's one message for every JSON patch error.
    let failed = server.fails(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/progressDeadlineSeconds","value":5},{"op":"test","path":"/spec/replicas","value":99}]"#,
    ]);
    assert!(failed.contains("the server rejected our request due to an error in our request"), "{failed}");
    assert_eq!(
        server.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image} {.spec.replicas} {.spec.minReadySeconds}"
        ]),
        "nginx:2 3 5"
    );
    let before = server.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}"]);
    let failed = server.fails(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":9},{"op":"test","path":"/spec/replicas","value":1}]"#,
    ]);
    // Upstream answers every JSON patch that does not apply with one generic message.
    assert!(failed.contains("the server rejected our request due to an error in our request"), "{failed}");
    assert_eq!(
        server.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion} {.spec.replicas}"]),
        format!("{before} 3")
    );
}

#[test]
fn replace_with_a_stale_resource_version_conflicts() {
    let server = start();
    server.ok(&["create", "deployment", "web", "--image", "nginx"]);
    let stale = server.ok(&["get", "deploy", "web", "-o", "json"]);
    server.ok(&["scale", "deploy", "web", "--replicas", "2"]);
    let file = server.write("web-stale.json", &stale);
    let err = server.fails(&["replace", "-f", path_str(&file)]);
    assert!(
        err.contains(r#"Error from server (Conflict): error when replacing "#)
            && err.contains(r#"Operation cannot be fulfilled on deployments.apps "web": the object has been modified; please apply your changes to the latest version and try again"#),
        "{err}"
    );
}

#[test]
fn scale_subresource_as_the_upstream_integration_tests_use_it() {
    // TestDeploymentScaleSubresource and TestRSScaleSubresource: GET /scale equals spec.replicas; writes to
    // /scale set spec.replicas (to 3, then 0).
    let server = start();
    server.ok(&["create", "deployment", "web", "--image", "nginx", "--replicas", "2"]);
    let scale: serde_json::Value =
        serde_json::from_str(&server.ok(&["get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"]))
            .unwrap();
    assert_eq!((scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()), (Some("Scale"), Some(2)));
    assert_eq!(scale["status"]["selector"], "app=web");
    server.ok(&["scale", "deploy", "web", "--replicas", "3"]);
    assert_eq!(server.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "3");
    server.ok(&["scale", "deploy", "web", "--current-replicas", "3", "--replicas", "0"]);
    assert_eq!(server.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]), "0");
    let stale = server.fails(&["scale", "deploy", "web", "--current-replicas", "3", "--replicas", "1"]);
    assert!(stale.contains("Expected replicas to be 3, was 0"), "{stale}");
    let rs = REPLICA_SET;
    let file = server.write("rs.yaml", rs);
    server.ok(&["create", "-f", path_str(&file)]);
    server.ok(&["scale", "rs", "rs", "--replicas", "3"]);
    assert!(server
        .ok(&["get", "--raw", "/apis/apps/v1/namespaces/default/replicasets/rs/scale"])
        .contains(r#""replicas":3"#));
}

#[test]
fn selectors_of_apps_v1_workloads_are_immutable() {
    // TestDeploymentSelectorImmutability and TestRSSelectorImmutability.
    let server = start();
    server.ok(&["create", "deployment", "web", "--image", "nginx"]);
    let err = server.fails(&[
        "patch",
        "deploy",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}"#,
    ]);
    assert!(err.contains("field is immutable"), "{err}");
    assert!(err.contains("spec.selector"), "{err}");
    let rs = REPLICA_SET;
    let file = server.write("rs.yaml", rs);
    server.ok(&["create", "-f", path_str(&file)]);
    let file = server.write("rs.yaml", &rs.replace("{a: b}", "{a: c}"));
    let err = server.fails(&["replace", "-f", path_str(&file)]);
    assert!(err.contains("field is immutable") && err.contains("spec.selector"), "{err}");
}

#[test]
fn strict_validation_rejects_unknown_fields_with_the_upstream_message() {
    let server = start();
    let file = server.write("cm-bogus.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nbogus: 1\n");
    let err = server.fails(&["create", "-f", path_str(&file)]);
    assert!(
        err.contains(r#"Error from server (BadRequest): error when creating"#)
            && err.contains(r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#),
        "{err}"
    );
    let warned = server.run(&["create", "-f", path_str(&file), "--validate=warn"]);
    assert!(warned.status.success());
    assert!(String::from_utf8_lossy(&warned.stderr).contains(r#"Warning: unknown field "bogus""#));
}

#[test]
fn explain_reads_the_openapi_documents() {
    let server = start();
    let out = server.ok(&["explain", "deployment.spec"]);
    assert!(out.contains("KIND:       Deployment") && out.contains("FIELD: spec <DeploymentSpec>"), "{out}");
    assert!(out.contains("replicas"), "{out}");
}

#[test]
fn delete_with_foreground_and_orphan_cascades_sets_finalizers() {
    let server = start();
    server.ok(&["create", "deployment", "fg", "--image", "nginx"]);
    server.ok(&["create", "deployment", "or", "--image", "nginx"]);
    server.ok(&["delete", "deploy", "fg", "--cascade=foreground", "--wait=false"]);
    let fg = server.ok(&["get", "deploy", "fg", "-o", "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}"]);
    assert!(fg.starts_with(r#"["foregroundDeletion"] 20"#), "{fg}");
    server.ok(&["delete", "deploy", "or", "--cascade=orphan", "--wait=false"]);
    let orphan = server.ok(&["get", "deploy", "or", "-o", "jsonpath={.metadata.finalizers}"]);
    assert_eq!(orphan, r#"["orphan"]"#);
    server.ok(&["create", "configmap", "gone"]);
    assert_eq!(server.ok(&["delete", "configmap", "gone"]), "configmap \"gone\" deleted\n");
    assert!(server.fails(&["get", "configmap", "gone"]).contains(r#"configmaps "gone" not found"#));
}

#[test]
fn a_restart_keeps_every_object_and_revisions_keep_increasing() {
    let server = start();
    let file = server.write("app.yaml", APP);
    server.ok(&["create", "-f", path_str(&file)]);
    server.ok(&["scale", "deploy", "api", "--replicas", "7"]);
    let before = server.ok(&["get", "deploy", "api", "-o", "jsonpath={.metadata.resourceVersion}"]);
    let data_dir = server.data_dir.clone();
    let temp = server.stop();
    assert!(data_dir.join("store.redb").exists());
    let server = start_in(temp);
    assert_eq!(
        server.ok(&["get", "deploy", "api", "-o", "jsonpath={.spec.replicas} {.metadata.resourceVersion}"]),
        format!("7 {before}")
    );
    assert_eq!(server.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.mode}"]), "fast");
    server.ok(&["label", "cm", "settings", "after=restart"]);
    let after: u64 =
        server.ok(&["get", "cm", "settings", "-o", "jsonpath={.metadata.resourceVersion}"]).parse().unwrap();
    assert!(after > before.parse::<u64>().unwrap(), "{after} after {before}");
}
