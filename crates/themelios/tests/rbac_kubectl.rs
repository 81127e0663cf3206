//! Users, RBAC and reviews through the real kubectl: users from a token file, roles and bindings made
//! with `kubectl create`, `auth can-i` (with and without `--list`), `auth whoami`, impersonation, and
//! upstream's 403 messages.

mod common;

use std::path::PathBuf;

const TOKENS: &str = "vic-token,vic,1001\njane-token,jane,1002,\"devs,qa\"\n";

/// A server whose token file names vic and jane, and a kubeconfig per user.
fn server_with_users() -> (common::ApiServer, PathBuf, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let tokens = temp.path().join("tokens.csv");
    std::fs::write(&tokens, TOKENS).unwrap();
    let tokens = tokens.to_str().unwrap().to_string();
    let server = common::start_command(temp, &["apiserver", "--port", "0", "--token-auth-file", &tokens]);
    let admin = std::fs::read_to_string(&server.kubeconfig).unwrap();
    let admin_token = admin.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_string();
    let vic = server.write("vic.kubeconfig", &admin.replace(&admin_token, "vic-token"));
    let jane = server.write("jane.kubeconfig", &admin.replace(&admin_token, "jane-token"));
    (server, vic, jane)
}

fn as_user(server: &common::ApiServer, kubeconfig: &PathBuf, args: &[&str]) -> std::process::Output {
    server.command(args).env("KUBECONFIG", kubeconfig).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

#[test]
fn a_viewer_reads_and_is_forbidden_to_write_with_upstreams_message() {
    let (server, vic, _) = server_with_users();
    server.ok(&["create", "namespace", "team"]);
    server.ok(&["create", "configmap", "settings", "-n", "team", "--from-literal=a=1"]);
    let unbound = as_user(&server, &vic, &["get", "configmaps", "-n", "team"]);
    assert!(!unbound.status.success());
    assert!(
        text(&unbound.stderr).contains(
            r#"configmaps is forbidden: User "vic" cannot list resource "configmaps" in API group "" in the namespace "team""#
        ),
        "{}",
        text(&unbound.stderr)
    );
    server.ok(&["create", "rolebinding", "vic-views", "--clusterrole=view", "--user=vic", "-n", "team"]);
    let read = as_user(&server, &vic, &["get", "configmap", "settings", "-n", "team", "-o", "name"]);
    assert!(read.status.success(), "{}", text(&read.stderr));
    assert_eq!(text(&read.stdout), "configmap/settings");
    let write = as_user(&server, &vic, &["create", "configmap", "mine", "-n", "team"]);
    assert!(!write.status.success());
    assert_eq!(
        text(&write.stderr),
        r#"error: failed to create configmap: configmaps is forbidden: User "vic" cannot create resource "configmaps" in API group "" in the namespace "team""#
    );
    let secrets = as_user(&server, &vic, &["get", "secrets", "-n", "team"]);
    assert!(!secrets.status.success(), "view does not read secrets");
    let elsewhere = as_user(&server, &vic, &["get", "configmaps", "-n", "default"]);
    assert!(!elsewhere.status.success(), "a RoleBinding grants in its namespace only");
}

#[test]
fn can_i_whoami_roles_and_impersonation() {
    let (server, vic, jane) = server_with_users();
    server.ok(&["create", "namespace", "team"]);
    server.ok(&["create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", "team"]);
    server.ok(&["create", "rolebinding", "qa-reads", "--role=pod-reader", "--group=qa", "-n", "team"]);

    let yes = as_user(&server, &jane, &["auth", "can-i", "list", "pods", "-n", "team"]);
    assert_eq!(text(&yes.stdout), "yes", "{}", text(&yes.stderr));
    let no = as_user(&server, &jane, &["auth", "can-i", "delete", "pods", "-n", "team"]);
    assert_eq!(text(&no.stdout), "no");
    // The admin asks on jane's behalf by impersonating her.
    assert_eq!(
        server.ok(&["auth", "can-i", "get", "pods", "-n", "team", "--as", "jane", "--as-group", "qa"]).trim(),
        "yes"
    );
    // `can-i` exits 1 when the answer is no.
    let denied = server.run(&["auth", "can-i", "get", "pods", "-n", "team", "--as", "jane"]);
    assert_eq!((text(&denied.stdout).as_str(), denied.status.code()), ("no", Some(1)));
    assert_eq!(server.ok(&["auth", "can-i", "create", "deployments", "-A"]).trim(), "yes", "the admin may do anything");

    let listed = as_user(&server, &jane, &["auth", "can-i", "--list", "-n", "team"]);
    let listed = text(&listed.stdout);
    let pods = listed.lines().find(|l| l.starts_with("pods ")).unwrap_or_else(|| panic!("{listed}"));
    assert!(pods.contains("[get list]"), "{pods}");
    assert!(listed.lines().any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")), "{listed}");

    let whoami = as_user(&server, &jane, &["auth", "whoami"]);
    let whoami = text(&whoami.stdout);
    assert!(whoami.contains("jane"), "{whoami}");
    assert!(whoami.contains("[devs qa system:authenticated]"), "{whoami}");
    assert!(server.ok(&["auth", "whoami", "--as", "jane"]).contains("jane"));

    let impersonating = as_user(&server, &vic, &["get", "pods", "-n", "team", "--as", "jane"]);
    assert!(!impersonating.status.success());
    assert!(
        text(&impersonating.stderr)
            .contains(r#"users "jane" is forbidden: User "vic" cannot impersonate resource "users" in API group "" at the cluster scope"#),
        "{}",
        text(&impersonating.stderr)
    );
    let roles = server.ok(&["get", "clusterroles", "cluster-admin", "view", "edit", "admin", "-o", "name"]);
    assert_eq!(roles.lines().count(), 4, "{roles}");
}

#[test]
fn create_token_gives_a_signed_token_that_dies_with_its_account_or_pod() {
    let (server, _, _) = server_with_users();
    server.ok(&["create", "namespace", "team"]);
    server.ok(&["create", "serviceaccount", "robot", "-n", "team"]);
    let token = server.ok(&["create", "token", "robot", "-n", "team", "--duration", "20m"]).trim().to_string();
    let admin = std::fs::read_to_string(&server.kubeconfig).unwrap();
    let admin_token = admin.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap().to_string();
    let robot = server.write("robot.kubeconfig", &admin.replace(&admin_token, &token));
    let whoami = as_user(&server, &robot, &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert_eq!(text(&whoami.stdout), "system:serviceaccount:team:robot", "{}", text(&whoami.stderr));

    // Anyone can check the signature with the key the server publishes.
    let jwks: serde_json::Value = serde_json::from_str(&server.ok(&["get", "--raw", "/openid/v1/jwks"])).unwrap();
    let key = themelios_apiserver::auth::tokens::public_key_of(&jwks).expect("an EC key");
    let claims = themelios_apiserver::auth::tokens::verify(&key, &token).expect("the published key verifies it");
    assert_eq!(claims["kubernetes.io"]["serviceaccount"]["name"], "robot");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 1200);

    server.ok(&["delete", "serviceaccount", "robot", "-n", "team"]);
    let revoked = as_user(&server, &robot, &["auth", "whoami"]);
    assert!(!revoked.status.success());
    assert!(text(&revoked.stderr).contains("You must be logged in to the server"), "{}", text(&revoked.stderr));

    // A token bound to a pod stops working when the pod goes.
    server.ok(&["create", "serviceaccount", "robot", "-n", "team"]);
    server.ok(&[
        "run",
        "p",
        "--image=nginx",
        "-n",
        "team",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"robot"}}"#,
    ]);
    let bound = server
        .ok(&["create", "token", "robot", "-n", "team", "--bound-object-kind", "Pod", "--bound-object-name", "p"])
        .trim()
        .to_string();
    let bound_config = server.write("bound.kubeconfig", &admin.replace(&admin_token, &bound));
    assert!(as_user(&server, &bound_config, &["auth", "whoami"]).status.success());
    server.ok(&["delete", "pod", "p", "-n", "team", "--grace-period=0", "--force"]);
    assert!(!as_user(&server, &bound_config, &["auth", "whoami"]).status.success(), "the pod is gone");
    let short = server.run(&["create", "token", "robot", "-n", "team", "--duration", "5m"]);
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("may not specify a duration less than 10 minutes"), "{}", text(&short.stderr));
}

#[test]
fn a_user_cannot_grant_what_she_does_not_hold() {
    let (server, _, jane) = server_with_users();
    server.ok(&["create", "namespace", "team"]);
    server.ok(&["create", "rolebinding", "qa-admin", "--clusterrole=admin", "--group=qa", "-n", "team"]);
    let within = as_user(&server, &jane, &["create", "role", "reads", "--verb=get", "--resource=pods", "-n", "team"]);
    assert!(within.status.success(), "{}", text(&within.stderr));
    let beyond = as_user(&server, &jane, &["create", "role", "nodes", "--verb=get", "--resource=nodes", "-n", "team"]);
    assert!(!beyond.status.success());
    assert!(
        text(&beyond.stderr).contains(
            "user \"jane\" (groups=[\"devs\" \"qa\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\"]}"
        ),
        "{}",
        text(&beyond.stderr)
    );
    let bind = as_user(
        &server,
        &jane,
        &["create", "rolebinding", "me-admin", "--clusterrole=cluster-admin", "--user=jane", "-n", "team"],
    );
    assert!(!bind.status.success(), "binding cluster-admin is more than admin holds");
    assert!(as_user(&server, &jane, &["get", "nodes"]).status.code() == Some(1), "still no nodes");
}

#[test]
fn a_bad_security_configuration_stops_the_start_with_the_file_named() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("encryption.yaml");
    std::fs::write(
        &config,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: {name: x}\n",
    )
    .unwrap();
    let tokens = temp.path().join("tokens.csv");
    std::fs::write(&tokens, "only-a-token\n").unwrap();
    for (command, flag, file, expected) in [
        (
            "cluster",
            "--encryption-provider-config",
            &config,
            "provider \"kms\" is not supported: use aesgcm or identity",
        ),
        ("apiserver", "--token-auth-file", &tokens, "tokens.csv:1: a line needs token,user,uid"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_themelios"))
            .args([command, "--port", "0", "--data-dir"])
            .arg(temp.path().join(command))
            .arg(flag)
            .arg(file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{command}: {stderr}");
    }
}

#[test]
fn without_credentials_one_is_anonymous_and_sees_only_health_and_version() {
    let (server, _, _) = server_with_users();
    let kubeconfig = std::fs::read_to_string(&server.kubeconfig).unwrap();
    let server_url = kubeconfig.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap().to_string();
    let ca = server.kubeconfig.parent().unwrap().join("ca.crt");
    let curl = |path: &str| {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&ca)
            .args(["-w", "\n%{http_code}", &format!("{server_url}{path}")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    assert_eq!(curl("/readyz"), ("200".to_string(), "ok".to_string()));
    assert_eq!(curl("/version").0, "200");
    let (code, body) = curl("/api/v1/namespaces/default/configmaps");
    assert_eq!(code, "403");
    assert!(
        body.contains(r#"configmaps is forbidden: User \"system:anonymous\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""#),
        "{body}"
    );
    let (code, body) = curl("/api");
    assert_eq!(code, "403");
    assert!(body.contains(r#"forbidden: User \"system:anonymous\" cannot get path \"/api\""#), "{body}");
}
