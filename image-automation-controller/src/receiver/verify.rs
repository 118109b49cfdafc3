//! Whether a webhook call is genuine, per Receiver type, as Flux's notification-controller
//! checks it: the secret path alone (`generic`), an HMAC of the body (`generic-hmac`,
//! `github`), a token header (`gitlab`, `harbor`), the payload's shape (`dockerhub`, `quay`),
//! and the `events` filter; GitHub's `ping` is answered without annotating anything (pure).

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};
use rill_common::api::notification_v1::ReceiverType;

/// What to do with a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Annotate the resources.
    Accept,
    /// Answer 200 and do nothing (a ping, an event not listed).
    Ignore(String),
    /// Answer 401 and do nothing.
    Reject(String),
}

/// The receiver types Rill verifies; the others stall as unsupported.
pub fn supported(kind: ReceiverType) -> bool {
    matches!(
        kind,
        ReceiverType::Generic
            | ReceiverType::GenericHmac
            | ReceiverType::Github
            | ReceiverType::Gitlab
            | ReceiverType::Harbor
            | ReceiverType::Dockerhub
            | ReceiverType::Quay
    )
}

fn hmac_matches(signature: &str, token: &str, body: &[u8]) -> bool {
    let Some((algo, hex_sig)) = signature.split_once('=') else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    macro_rules! check {
        ($hash:ty) => {{
            let Ok(mut mac) = hmac::Hmac::<$hash>::new_from_slice(token.as_bytes()) else {
                return false;
            };
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        }};
    }
    match algo {
        "sha1" => check!(sha1::Sha1),
        "sha256" => check!(sha2::Sha256),
        "sha512" => check!(sha2::Sha512),
        _ => false,
    }
}

fn event_allowed(events: &[String], event: &str) -> bool {
    events.is_empty() || events.iter().any(|e| e.eq_ignore_ascii_case(event))
}

fn json_has(body: &[u8], keys: &[&str]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| keys.iter().all(|k| v.get(k).is_some()))
}

/// Checks one call; `headers` have lower-case names.
pub fn verify(
    kind: ReceiverType,
    token: &str,
    events: &[String],
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Verdict {
    let header = |name: &str| headers.get(name).map(String::as_str);
    match kind {
        ReceiverType::Generic => Verdict::Accept,
        ReceiverType::GenericHmac => match header("x-signature") {
            Some(sig) if hmac_matches(sig, token, body) => Verdict::Accept,
            _ => Verdict::Reject("the X-Signature header does not match the body".into()),
        },
        ReceiverType::Github => {
            let signed = header("x-hub-signature-256")
                .or(header("x-hub-signature"))
                .is_some_and(|sig| hmac_matches(sig, token, body));
            if !signed {
                return Verdict::Reject("the GitHub signature does not match the body".into());
            }
            match header("x-github-event").unwrap_or_default() {
                "ping" => Verdict::Ignore("ping".into()),
                event if !event_allowed(events, event) => {
                    Verdict::Ignore(format!("event '{event}' is not in the receiver's events"))
                }
                _ => Verdict::Accept,
            }
        }
        ReceiverType::Gitlab => {
            if header("x-gitlab-token") != Some(token) {
                return Verdict::Reject("the X-Gitlab-Token header is wrong".into());
            }
            let event = header("x-gitlab-event").unwrap_or_default();
            if event_allowed(events, event) {
                Verdict::Accept
            } else {
                Verdict::Ignore(format!("event '{event}' is not in the receiver's events"))
            }
        }
        ReceiverType::Harbor => match header("authorization") {
            Some(auth) if auth == token => Verdict::Accept,
            _ => Verdict::Reject("the Authorization header is wrong".into()),
        },
        ReceiverType::Dockerhub if json_has(body, &["push_data", "repository"]) => Verdict::Accept,
        ReceiverType::Quay if json_has(body, &["docker_url", "updated_tags"]) => Verdict::Accept,
        ReceiverType::Dockerhub | ReceiverType::Quay => {
            Verdict::Reject("the payload is not a push notification".into())
        }
        _ => Verdict::Reject("this receiver type is not supported by Rill".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(algo: &str, token: &str, body: &[u8]) -> String {
        match algo {
            "sha1" => {
                let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
                m.update(body);
                format!("sha1={}", hex::encode(m.finalize().into_bytes()))
            }
            _ => {
                let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()).unwrap();
                m.update(body);
                format!("sha256={}", hex::encode(m.finalize().into_bytes()))
            }
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    type Case<'a> = (
        ReceiverType,
        &'a [String],
        BTreeMap<String, String>,
        &'a [u8],
        &'a str,
    );

    #[test]
    fn each_type_checks_what_its_sender_signs() {
        let (token, body) = (
            "s3cret",
            br#"{"push_data": {"tag": "1.0"}, "repository": {}}"#.as_slice(),
        );
        let push = ["push".to_string()];
        let cases: Vec<Case> = vec![
            (
                ReceiverType::Generic,
                &[],
                headers(&[]),
                b"anything",
                "accept",
            ),
            (
                ReceiverType::GenericHmac,
                &[],
                headers(&[("x-signature", &sign("sha256", token, body))]),
                body,
                "accept",
            ),
            (
                ReceiverType::GenericHmac,
                &[],
                headers(&[("x-signature", &sign("sha1", token, body))]),
                body,
                "accept",
            ),
            (
                ReceiverType::GenericHmac,
                &[],
                headers(&[("x-signature", &sign("sha256", "other", body))]),
                body,
                "reject",
            ),
            (ReceiverType::GenericHmac, &[], headers(&[]), body, "reject"),
            (
                ReceiverType::Github,
                &push,
                headers(&[
                    ("x-hub-signature-256", &sign("sha256", token, body)),
                    ("x-github-event", "push"),
                ]),
                body,
                "accept",
            ),
            (
                ReceiverType::Github,
                &push,
                headers(&[
                    ("x-hub-signature-256", &sign("sha256", token, body)),
                    ("x-github-event", "ping"),
                ]),
                body,
                "ignore",
            ),
            (
                ReceiverType::Github,
                &push,
                headers(&[
                    ("x-hub-signature-256", &sign("sha256", token, body)),
                    ("x-github-event", "issues"),
                ]),
                body,
                "ignore",
            ),
            (
                ReceiverType::Github,
                &push,
                headers(&[
                    ("x-hub-signature-256", &sign("sha256", "x", body)),
                    ("x-github-event", "push"),
                ]),
                body,
                "reject",
            ),
            (
                ReceiverType::Gitlab,
                &[],
                headers(&[("x-gitlab-token", token), ("x-gitlab-event", "Push Hook")]),
                body,
                "accept",
            ),
            (
                ReceiverType::Gitlab,
                &[],
                headers(&[("x-gitlab-token", "nope")]),
                body,
                "reject",
            ),
            (
                ReceiverType::Harbor,
                &[],
                headers(&[("authorization", token)]),
                body,
                "accept",
            ),
            (ReceiverType::Harbor, &[], headers(&[]), body, "reject"),
            (ReceiverType::Dockerhub, &[], headers(&[]), body, "accept"),
            (ReceiverType::Dockerhub, &[], headers(&[]), b"{}", "reject"),
            (
                ReceiverType::Quay,
                &[],
                headers(&[]),
                br#"{"docker_url": "x", "updated_tags": ["1"]}"#,
                "accept",
            ),
            (ReceiverType::Acr, &[], headers(&[]), body, "reject"),
        ];
        for (kind, events, h, b, want) in cases {
            let got = match verify(kind, token, events, &h, b) {
                Verdict::Accept => "accept",
                Verdict::Ignore(_) => "ignore",
                Verdict::Reject(_) => "reject",
            };
            assert_eq!(got, want, "{kind:?} {h:?}");
        }
    }
}
