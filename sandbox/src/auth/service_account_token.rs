//! Service account tokens (`TokenRequest`, `kubectl create token`): JWTs with the claims
//! kube-apiserver writes (issuer, subject, audiences, issue and expiry times, the service
//! account's namespace, name and uid), signed with HS256 under a key made at start (upstream
//! signs with the service-account key, RS256; clients read the claims and verify neither),
//! and checked on every request: signature, time window, audience.

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

/// The issuer and the one audience the sandbox accepts (kubeadm's defaults).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The service account a token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSubject {
    /// Namespace.
    pub namespace: String,
    /// Service account name.
    pub name: String,
    /// Service account uid (a token outlives no re-created account).
    pub uid: String,
}

/// Signs and checks tokens under one key.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner { .. }")
    }
}

impl Default for TokenSigner {
    fn default() -> Self {
        Self {
            key: rand::random(),
        }
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl TokenSigner {
    fn mac(&self, input: &str) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(input.as_bytes());
        Some(mac)
    }

    /// A token for `subject` valid for `audiences` from `issued_at` to `expires_at` (Unix
    /// seconds); `None` only if the MAC cannot be keyed.
    pub fn issue(
        &self,
        subject: &TokenSubject,
        audiences: &[String],
        issued_at: i64,
        expires_at: i64,
        id: &str,
    ) -> Option<String> {
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let claims = json!({
            "aud": audiences, "exp": expires_at, "iat": issued_at, "nbf": issued_at,
            "iss": ISSUER, "jti": id,
            "kubernetes.io": {"namespace": subject.namespace,
                "serviceaccount": {"name": subject.name, "uid": subject.uid}},
            "sub": format!("system:serviceaccount:{}:{}", subject.namespace, subject.name),
        });
        let input = format!(
            "{}.{}",
            b64().encode(header.to_string()),
            b64().encode(claims.to_string())
        );
        let signature = self.mac(&input)?.finalize().into_bytes();
        Some(format!("{input}.{}", b64().encode(signature)))
    }

    /// The subject of `token` when it is one of ours, unexpired at `now` and meant for this
    /// server; `None` otherwise.
    pub fn verify(&self, token: &str, now: i64) -> Option<TokenSubject> {
        let (input, signature) = token.rsplit_once('.')?;
        let (_, payload) = input.split_once('.')?;
        let signature = b64().decode(signature).ok()?;
        self.mac(input)?.verify_slice(&signature).ok()?;
        let claims: Value = serde_json::from_slice(&b64().decode(payload).ok()?).ok()?;
        let in_window = claims["nbf"].as_i64()? <= now && now < claims["exp"].as_i64()?;
        let for_us = claims["aud"]
            .as_array()?
            .iter()
            .any(|a| a.as_str() == Some(ISSUER));
        if !(in_window && for_us && claims["iss"] == ISSUER) {
            return None;
        }
        let sa = &claims["kubernetes.io"];
        Some(TokenSubject {
            namespace: sa["namespace"].as_str()?.to_string(),
            name: sa["serviceaccount"]["name"].as_str()?.to_string(),
            uid: sa["serviceaccount"]["uid"].as_str()?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_when_ours_current_and_for_this_server() {
        let signer = TokenSigner::default();
        let subject = TokenSubject {
            namespace: "team-a".into(),
            name: "deployer".into(),
            uid: "u-1".into(),
        };
        let ours = vec![ISSUER.to_string()];
        let token = signer.issue(&subject, &ours, 1000, 4600, "id").unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(signer.verify(&token, 1000), Some(subject.clone()));
        assert_eq!(signer.verify(&token, 4599), Some(subject.clone()));
        // Expired, not yet valid, another audience, another server's key, tampered.
        assert_eq!(signer.verify(&token, 4600), None);
        assert_eq!(signer.verify(&token, 999), None);
        let elsewhere = signer
            .issue(&subject, &["vault".to_string()], 1000, 4600, "id")
            .unwrap();
        assert_eq!(signer.verify(&elsewhere, 2000), None);
        assert_eq!(TokenSigner::default().verify(&token, 2000), None);
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged_claims = b64().encode(
            json!({"aud": [ISSUER], "iss": ISSUER, "nbf": 0, "exp": 9999,
                   "kubernetes.io": {"namespace": "kube-system", "serviceaccount": {"name": "x", "uid": "u"}}})
            .to_string(),
        );
        assert_eq!(
            signer.verify(&format!("{head}.{forged_claims}.{signature}"), 2000),
            None
        );
        for junk in ["", "a.b", "a.b.c", "...", "rill-sandbox-admin"] {
            assert_eq!(signer.verify(junk, 2000), None, "{junk}");
        }
        // The claims carry what clients read.
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&b64().decode(payload).unwrap()).unwrap();
        assert_eq!(claims["sub"], "system:serviceaccount:team-a:deployer");
        assert_eq!(claims["exp"], 4600);
    }
}
