//! Raw HTTP requests to an API server (through curl: one request, its status and body, nothing in
//! between), and the masking that lets two servers' answers be compared.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a server is and how to authenticate to it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub base: String,
    pub ca: PathBuf,
    pub token: String,
}

impl Endpoint {
    /// The server a kubeconfig of ours or of `upstream/control-plane.sh` names, with the CA and token files
    /// next to it.
    pub fn new(base: &str, ca: &Path, token_file: &Path) -> Self {
        let token = std::fs::read_to_string(token_file).expect("the token file").trim().to_string();
        Self { base: base.trim_end_matches('/').to_string(), ca: ca.to_path_buf(), token }
    }
}

/// One answer: the HTTP status and the body (JSON when it parses, else a string).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Sends `method path` with `body` of `content_type`.
pub fn send(endpoint: &Endpoint, method: &str, path: &str, content_type: &str, body: Option<&str>) -> Answer {
    send_as(endpoint, None, method, path, content_type, body)
}

/// [`send`] impersonating a user (`Impersonate-User`) and their groups (`Impersonate-Group`).
pub fn send_as(
    endpoint: &Endpoint,
    user: Option<(&str, &[&str])>,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<&str>,
) -> Answer {
    let mut command = Command::new("curl");
    if let Some((name, groups)) = user {
        command.args(["-H", &format!("Impersonate-User: {name}")]);
        for group in groups {
            command.args(["-H", &format!("Impersonate-Group: {group}")]);
        }
    }
    command
        .args(["-sS", "--max-time", "20", "-X", method, "--cacert"])
        .arg(&endpoint.ca)
        .args(["-H", &format!("Authorization: Bearer {}", endpoint.token)])
        .args(["-H", "Accept: application/json"])
        .args(["-w", "\n%{http_code}"]);
    if body.is_some() {
        // From stdin: an argument holds at most 128 KiB, and some requests carry a MiB.
        command.args(["-H", &format!("Content-Type: {content_type}"), "--data-binary", "@-"]);
    }
    command.arg(format!("{}{path}", endpoint.base));
    command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = command.spawn().expect("run curl");
    if let (Some(body), Some(mut stdin)) = (body, child.stdin.take()) {
        use std::io::Write;
        stdin.write_all(body.as_bytes()).expect("send the body to curl");
    }
    let out = child.wait_with_output().expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    let status = status.trim().parse().unwrap_or(0);
    let body = serde_json::from_str(body).unwrap_or_else(|_| {
        // A watch answers with one JSON document per line.
        let events: Vec<Value> = body.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if events.is_empty() {
            Value::String(body.to_string())
        } else {
            Value::Array(events)
        }
    });
    Answer { status, body }
}

/// What differs from server to server in any answer: uids, resourceVersions, times, generated name
/// suffixes, continue tokens, allocated addresses.
pub fn mask(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields.iter_mut() {
                match key.as_str() {
                    "resourceVersion" | "continue" | "uid" | "clusterIP" | "selfLink" | "token" => {
                        if !v.is_null() {
                            *v = Value::String(format!("<{key}>"));
                        }
                    }
                    "clusterIPs" => *v = Value::String("<clusterIPs>".into()),
                    // Entries are ordered by their times, which are masked: two writes a second apart on
                    // one server and within one second on the other swap. Compare them in one order.
                    "managedFields" => {
                        mask(v);
                        if let Value::Array(entries) = v {
                            let key = |e: &Value| {
                                ["manager", "operation", "subresource", "apiVersion"]
                                    .map(|f| e.get(f).and_then(Value::as_str).unwrap_or_default().to_string())
                            };
                            entries.sort_by_key(key);
                        }
                    }
                    _ => mask(v),
                }
            }
            if let (Some(Value::String(prefix)), Some(Value::String(name))) =
                (fields.get("generateName").cloned(), fields.get("name").cloned())
            {
                if name.starts_with(&prefix) && name.len() == prefix.len() + 5 {
                    fields.insert("name".into(), Value::String(format!("{prefix}<suffix>")));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        Value::String(s) if looks_like_time(s) => *s = "<time>".into(),
        Value::String(s) if s.contains(RECORDED_VERSION) => *s = mask_revision_after(s, RECORDED_VERSION),
        Value::String(s) if s.contains(CURRENT_REVISION) => *s = mask_revision_after(s, CURRENT_REVISION),
        // The service-account token volume's suffix is random upstream.
        Value::String(s) if s.starts_with("kube-api-access-") => *s = "kube-api-access-<suffix>".into(),
        Value::String(s) if looks_like_uid(s) => *s = "<uid>".into(),
        _ => {}
    }
}

/// A stale precondition's message names the stored resourceVersion, which differs between servers.
const RECORDED_VERSION: &str = "ResourceVersion in record (";
/// A read ahead of the server names the server's revision.
const CURRENT_REVISION: &str = ", current: ";

/// `s` with the number after `marker` masked.
fn mask_revision_after(s: &str, marker: &str) -> String {
    let Some(at) = s.rfind(marker) else { return s.to_string() };
    let digits_from = at + marker.len();
    let digits = s[digits_from..].chars().take_while(char::is_ascii_digit).count();
    format!("{}<resourceVersion>{}", &s[..digits_from], &s[digits_from + digits..])
}

fn looks_like_time(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes().get(4) == Some(&b'-') && s.as_bytes().get(10) == Some(&b'T') && s.ends_with('Z')
}

fn looks_like_uid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[cfg(test)]
#[allow(unused_imports)] // the upstream suites run without libtest, which drops these tests
mod tests {
    use super::mask;
    use serde_json::json;

    #[test]
    fn masking_hides_what_differs_between_servers_and_keeps_the_rest() {
        let mut answer = json!({
            "message": "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (213). The object might have been modified",
            "reason": "Timeout: Too large resource version: 99, current: 207",
            "metadata": {"uid": "0b6e54a4-7c1a-4a3e-9d52-0f8f4d9e0a11", "generateName": "web-", "name": "web-x7k2p"},
            "spec": {"volumes": [{"name": "kube-api-access-tkr6b"}], "replicas": 3},
        });
        mask(&mut answer);
        assert_eq!(
            answer["message"],
            "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (<resourceVersion>). The object might have been modified"
        );
        assert_eq!(answer["reason"], "Timeout: Too large resource version: 99, current: <resourceVersion>");
        assert_eq!(answer["metadata"]["uid"], "<uid>");
        assert_eq!(answer["metadata"]["name"], "web-<suffix>");
        assert_eq!(answer["spec"]["volumes"][0]["name"], "kube-api-access-<suffix>");
        assert_eq!(answer["spec"]["replicas"], 3);
    }
}
