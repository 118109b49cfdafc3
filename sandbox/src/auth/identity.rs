//! Who is asking: bearer tokens (static ones and service account tokens), the identity of unauthenticated requests, and impersonation
//! through the `Impersonate-*` headers (checked with the `impersonate` verb).

use std::collections::HashMap;

use axum::http::HeaderMap;

use super::rbac::{Attributes, Authorizer};
use super::service_account_token::TokenSigner;
use crate::error::ApiError;

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// Groups.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// A service account as the API server names it: `system:serviceaccount:<ns>:<name>` in
    /// `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }

    /// The cluster administrator (`system:masters`).
    pub fn admin() -> Self {
        Self {
            name: "admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }
}

/// Token table, service account tokens and the identity of requests without credentials.
#[derive(Clone, Debug)]
pub struct Authenticator {
    tokens: HashMap<String, UserInfo>,
    service_accounts: TokenSigner,
    anonymous: UserInfo,
}

/// The token the admin kubeconfig carries.
pub const ADMIN_TOKEN: &str = "rill-sandbox-admin";

impl Default for Authenticator {
    fn default() -> Self {
        Self {
            tokens: HashMap::from([(ADMIN_TOKEN.to_string(), UserInfo::admin())]),
            service_accounts: TokenSigner::default(),
            anonymous: UserInfo::admin(),
        }
    }
}

impl Authenticator {
    /// Adds a token for a user; an authenticated user is in `system:authenticated`, as
    /// kube-apiserver's authenticator chain adds it.
    pub fn add_token(&mut self, token: &str, mut user: UserInfo) {
        if !user.groups.iter().any(|g| g == "system:authenticated") {
            user.groups.push("system:authenticated".into());
        }
        self.tokens.insert(token.to_string(), user);
    }

    /// Makes requests without credentials `system:anonymous` instead of the admin.
    pub fn strict_anonymous(&mut self) {
        self.anonymous = UserInfo {
            name: "system:anonymous".into(),
            groups: vec!["system:unauthenticated".into()],
        };
    }

    /// The signer of service account tokens.
    pub fn service_account_tokens(&self) -> &TokenSigner {
        &self.service_accounts
    }

    /// The requester, from `Authorization: Bearer`: a static token, or a service account
    /// token whose account still exists with the uid it names (`account_uid` looks it up).
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        account_uid: impl Fn(&str, &str) -> Option<String>,
    ) -> Result<UserInfo, ApiError> {
        let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Ok(self.anonymous.clone());
        };
        let token = value
            .strip_prefix("Bearer ")
            .ok_or_else(ApiError::unauthorized)?
            .trim();
        if let Some(user) = self.tokens.get(token) {
            return Ok(user.clone());
        }
        let now = jiff::Timestamp::now().as_second();
        let subject = self
            .service_accounts
            .verify(token, now)
            .filter(|s| account_uid(&s.namespace, &s.name).as_deref() == Some(s.uid.as_str()))
            .ok_or_else(ApiError::unauthorized)?;
        Ok(UserInfo::service_account(&subject.namespace, &subject.name))
    }
}

/// Applies `Impersonate-User` / `Impersonate-Group`, checking that the requester may.
pub fn impersonate(
    requester: UserInfo,
    headers: &HeaderMap,
    authorizer: &dyn Authorizer,
) -> Result<UserInfo, ApiError> {
    let user = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let Some(user) = user else {
        if !groups.is_empty() {
            return Err(ApiError::bad_request(format!(
                "requested {groups:?} without impersonating a user"
            )));
        }
        return Ok(requester);
    };
    let check = |attrs: Attributes, what: &str| -> Result<(), ApiError> {
        if authorizer.allowed(&requester, &attrs) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{what} is forbidden: User \"{}\" cannot impersonate resource \"{}\" in API group \"{}\"{}",
                requester.name,
                attrs.resource,
                attrs.group,
                if attrs.namespace.is_empty() {
                    " at the cluster scope".to_string()
                } else {
                    format!(" in the namespace \"{}\"", attrs.namespace)
                }
            )))
        }
    };
    let service_account = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    match service_account {
        Some((ns, sa)) => check(
            Attributes::resource("impersonate", "", "serviceaccounts", ns, sa),
            &format!("serviceaccounts \"{sa}\""),
        )?,
        None => check(
            Attributes::resource("impersonate", "", "users", "", &user),
            &format!("users \"{user}\""),
        )?,
    }
    for group in &groups {
        check(
            Attributes::resource("impersonate", "", "groups", "", group),
            &format!("groups \"{group}\""),
        )?;
    }
    let mut effective_groups = groups;
    if effective_groups.is_empty()
        && let Some((ns, name)) = service_account
    {
        effective_groups = UserInfo::service_account(ns, name).groups;
    }
    if user != "system:anonymous" && !effective_groups.iter().any(|g| g == "system:authenticated") {
        effective_groups.push("system:authenticated".into());
    }
    Ok(UserInfo {
        name: user,
        groups: effective_groups,
    })
}
