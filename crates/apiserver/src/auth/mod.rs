//! Who a request is from and whether they may make it: bearer tokens to users (the admin token, a static
//! token file), impersonation, and the authorizer chain — the `system:masters` group, then RBAC.

pub mod attributes;
pub mod bootstrap;
pub mod escalation;
pub mod rbac;
pub mod tokens;

use attributes::Attributes;
use std::collections::HashMap;
use std::path::Path;
use themelios_api::{ApiError, Reason, StateRead};

/// The group whose members may do anything, as upstream's privileged-group authorizer.
pub const MASTERS: &str = "system:masters";
/// Every authenticated user's group.
pub const AUTHENTICATED: &str = "system:authenticated";

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// `jane`, `system:serviceaccount:ns:name`, `system:node:n1`.
    pub name: String,
    /// A stable id, if the authenticator has one.
    pub uid: String,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A user in `groups` (and `system:authenticated`).
    pub fn new(name: impl Into<String>, uid: impl Into<String>, groups: impl IntoIterator<Item = String>) -> Self {
        let mut groups: Vec<String> = groups.into_iter().collect();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.to_string());
        }
        UserInfo { name: name.into(), uid: uid.into(), groups }
    }

    /// Whoever sends no credentials: `system:anonymous`, in `system:unauthenticated` only.
    pub fn anonymous() -> Self {
        UserInfo { name: "system:anonymous".into(), uid: String::new(), groups: vec!["system:unauthenticated".into()] }
    }

    /// The admin: what the data directory's token authenticates, a member of `system:masters`.
    pub fn admin() -> Self {
        UserInfo::new("admin", "", [MASTERS.to_string()])
    }
}

/// Bearer tokens and the users they authenticate: static tokens, and service-account tokens.
#[derive(Default)]
pub struct Authenticator {
    tokens: HashMap<String, UserInfo>,
    /// Signs and checks service-account tokens.
    pub service_accounts: Option<tokens::TokenIssuer>,
}

impl Authenticator {
    /// The admin token alone.
    pub fn with_admin(token: &str) -> Self {
        let mut tokens = HashMap::new();
        tokens.insert(token.to_string(), UserInfo::admin());
        Authenticator { tokens, service_accounts: None }
    }

    /// Adds the users of a static token file in upstream's `--token-auth-file` format: one
    /// `token,user,uid[,"group1,group2"]` per line.
    pub fn load_token_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line);
            let at = |what: &str| format!("{}:{}: {what}", path.display(), number + 1);
            if fields.len() < 3 || fields[..3].iter().any(String::is_empty) {
                return Err(at("a line needs token,user,uid and optionally \"group1,group2\""));
            }
            let groups = fields.get(3).map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from));
            let user = UserInfo::new(fields[1].clone(), fields[2].clone(), groups.into_iter().flatten());
            if self.tokens.insert(fields[0].clone(), user).is_some() {
                return Err(at("a token appears twice"));
            }
        }
        Ok(())
    }

    /// The user a request's `Authorization: Bearer` header names (`state`: the objects a service-account
    /// token must still name).
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        state: &impl StateRead,
        now: themelios_api::Time,
    ) -> Option<UserInfo> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        if token.matches('.').count() == 2 {
            return self.service_accounts.as_ref()?.authenticate(token, state, now);
        }
        // Compare in constant time so a token cannot be guessed byte by byte from response times.
        let mut found = None;
        for (known, user) in &self.tokens {
            if constant_time_eq(known.as_bytes(), token.as_bytes()) {
                found = Some(user.clone());
            }
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One CSV line's fields, double quotes grouping commas.
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field).trim().to_string()),
            c => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

/// The user a request acts as: the authenticated one, or whom it impersonates (`Impersonate-User`,
/// `Impersonate-Group`, `Impersonate-Uid`) if the authenticated user may impersonate them.
pub fn impersonated(state: &impl StateRead, user: UserInfo, headers: &hyper::HeaderMap) -> Result<UserInfo, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    };
    let (names, groups, uids) = (values("impersonate-user"), values("impersonate-group"), values("impersonate-uid"));
    if names.is_empty() {
        if !groups.is_empty() || !uids.is_empty() {
            return Err(ApiError::new(
                Reason::InternalError,
                "requested [Impersonate-Group Impersonate-Uid] without impersonating a user",
            ));
        }
        return Ok(user);
    }
    let name = names[0].clone();
    let mut checks: Vec<Attributes> = Vec::new();
    match name.strip_prefix("system:serviceaccount:").and_then(|rest| rest.split_once(':')) {
        Some((namespace, account)) => checks.push(Attributes::impersonate("", "serviceaccounts", account, namespace)),
        None => checks.push(Attributes::impersonate("", "users", &name, "")),
    }
    for group in &groups {
        checks.push(Attributes::impersonate("", "groups", group, ""));
    }
    for uid in &uids {
        checks.push(Attributes::impersonate("authentication.k8s.io", "uids", uid, ""));
    }
    if let Some(denied) = checks.iter().find(|check| !authorize(state, &user, check).allowed) {
        return Err(forbidden(&user, denied));
    }
    let mut groups = groups;
    if name.starts_with("system:serviceaccount:") {
        groups.extend(["system:serviceaccounts".to_string()]);
        if let Some(namespace) = name.split(':').nth(2) {
            groups.push(format!("system:serviceaccounts:{namespace}"));
        }
    }
    Ok(UserInfo::new(name, uids.first().cloned().unwrap_or_default(), groups))
}

/// A decision and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// Which binding allowed it (empty when denied).
    pub reason: String,
}

/// The authorizer chain: members of `system:masters` may do anything; otherwise RBAC decides.
pub fn authorize(state: &impl StateRead, user: &UserInfo, request: &Attributes) -> Decision {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Decision { allowed: true, reason: String::new() };
    }
    rbac::authorize(state, user, request)
}

/// 403 with upstream's message for a request `user` may not make.
pub fn forbidden(user: &UserInfo, request: &Attributes) -> ApiError {
    let who = format!("User {:?} cannot {}", user.name, request.verb);
    let why = if !request.is_resource {
        format!("{who} path {:?}", request.path)
    } else {
        let resource = match request.subresource.as_str() {
            "" => request.resource.clone(),
            sub => format!("{}/{sub}", request.resource),
        };
        match request.namespace.as_str() {
            "" => format!("{who} resource {resource:?} in API group {:?} at the cluster scope", request.group),
            ns => format!("{who} resource {resource:?} in API group {:?} in the namespace {ns:?}", request.group),
        }
    };
    let qualified = match request.group.as_str() {
        "" => request.resource.clone(),
        group => format!("{}.{group}", request.resource),
    };
    let message = match (request.is_resource, request.name.as_str()) {
        (false, _) => format!("forbidden: {why}"),
        (true, "") => format!("{qualified} is forbidden: {why}"),
        (true, name) => format!("{qualified} {name:?} is forbidden: {why}"),
    };
    let mut error = ApiError::new(Reason::Forbidden, message);
    if request.is_resource {
        error.details = Some(Box::new(themelios_api::error::Details {
            name: request.name.clone(),
            group: request.group.clone(),
            kind: request.resource.clone(),
            ..Default::default()
        }));
    }
    error
}
